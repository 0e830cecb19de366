"""(being built)"""

from flask import Blueprint

blueprint = Blueprint("interviews", __name__)
