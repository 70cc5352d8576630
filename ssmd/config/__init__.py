"""Environment, feed and schema files: typed models, loading and strict validation.

May import: ssmd.errors, ssmd.resources. Nothing here opens a network connection.
"""

from ssmd.config.load import find_environment, list_environments, load_environment
from ssmd.config.model import Environment

__all__ = ["Environment", "find_environment", "list_environments", "load_environment"]
