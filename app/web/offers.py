"""(being built)"""

from flask import Blueprint

blueprint = Blueprint("offers", __name__)
