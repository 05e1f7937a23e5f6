"""Local accounts: users with one role each, argon2id passwords, lock-out after failed logins."""

# auth_models registers the session and token tables next to `users` on the metadata.
from core.accounts import auth_models  # noqa: F401
from core.accounts.models import Role, User
from core.accounts.service import (
    AuthenticationError,
    LoginPolicy,
    authenticate,
    create_user,
    get_user,
    list_users,
)

__all__ = [
    "AuthenticationError",
    "LoginPolicy",
    "Role",
    "User",
    "authenticate",
    "create_user",
    "get_user",
    "list_users",
]
