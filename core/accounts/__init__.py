"""Local accounts: users with one role each, argon2id passwords, lock-out after failed logins."""

# auth_models registers the session and token tables next to `users` on the metadata.
from core.accounts import auth_models  # noqa: F401
from core.accounts.models import Role, User
from core.accounts.service import (
    AuthenticationError,
    LoginPolicy,
    PasswordCheck,
    authenticate,
    check_password,
    create_user,
    get_user,
    list_users,
)

__all__ = [
    "AuthenticationError",
    "LoginPolicy",
    "PasswordCheck",
    "Role",
    "User",
    "authenticate",
    "check_password",
    "create_user",
    "get_user",
    "list_users",
]
