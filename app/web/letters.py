"""(being built)"""

from flask import Blueprint

blueprint = Blueprint("letters", __name__)
