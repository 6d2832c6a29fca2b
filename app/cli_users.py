"""`python -m app users add|list|disable|enable`: the one command for accounts of writers, raters and admins."""

from __future__ import annotations

import argparse
import getpass
import sys

from storage import (
    ROLES,
    NotFound,
    create_user,
    get_user_by_name,
    list_users,
    run_in_transaction,
    set_disabled,
    set_password,
)


def add_users_commands(sub) -> None:
    """The `users` subcommands, under the front door's `sub` (its subparsers)."""
    users = sub.add_parser("users", help="accounts of writers, raters and admins").add_subparsers(
        dest="users_command", required=True)
    add = users.add_parser("add", help="create an account, or set a new password and role for one; with "
                           "--auth-file, write the file too")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="writer")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--auth-file", default=argparse.SUPPRESS, help="also write NAME to this older "
                     "'name:argon2-hash' file")
    users.add_parser("list", help="every account with its role")
    for verb in ("disable", "enable"):
        users.add_parser(verb, help=f"{verb} an account's login").add_argument("name")


def run_users(args: argparse.Namespace, *, factory) -> int:
    """Run one `users` subcommand on the database the front door opened."""
    command = args.users_command
    if command == "add":
        password = read_password(args.name, from_stdin=args.password_stdin)
        print(save_account(factory, name=args.name, role=args.role, password=password))
        if getattr(args, "auth_file", None):
            from app.auth import add_user

            add_user(args.auth_file, args.name, password)
            print(f"saved {args.name} in {args.auth_file}")
    elif command == "list":
        print_users(factory)
    else:
        disabled = command == "disable"
        run_in_transaction(factory, lambda s: set_disabled(s, name=args.name, disabled=disabled))
        print(f"{args.name} {'disabled' if disabled else 'enabled'}")
    return 0


def print_users(factory) -> None:
    """Every account: name, role and how it logs in."""
    rows = run_in_transaction(
        factory, lambda s: [(u.name, u.role, u.password_hash is not None, u.disabled_at) for u in list_users(s)])
    print(f"{'name':<24} {'role':<7} login")
    for name, role, has_password, disabled in rows:
        login = "disabled" if disabled else ("password" if has_password else "none")
        print(f"{name:<24} {role:<7} {login}")


def read_password(name: str, *, from_stdin: bool) -> str:
    """One line of standard input, or a prompt typed twice."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass(f"password for {name}: ")
    if password != getpass.getpass("again: "):
        raise ValueError("the passwords differ")
    return password


def save_account(factory, *, name: str, role: str, password: str) -> str:
    """Create the account, or give an existing one this password and role; returns what happened."""

    def work(session) -> str:
        try:
            user = get_user_by_name(session, name)
        except NotFound:
            create_user(session, name=name, password=password, role=role)
            return f"created {role} {name}"
        set_password(session, user_id=user.id, password=password)
        user.role = role
        return f"updated {role} {name}"

    return run_in_transaction(factory, work)
