"""Settings: wxpub.toml or pyproject.toml's [tool.wxpub] found by walking up from a post, the
environment, the account's credentials, and where a project and the user cache are.

Imports nothing of ours but the errors, so the CLI and `wxpub check` can read it cheaply.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_FILE = "wxpub.toml"
LEDGER_FILE = "wxpub-ledger.json"
# What marks a project's root folder: only files inside it may be read for a post.
PROJECT_MARKERS = (CONFIG_FILE, "pyproject.toml", ".git")


def find_project_root(post_path: str | Path) -> Path:
    """The nearest folder above the post holding wxpub.toml, pyproject.toml or .git, else the post's folder.

    This one folder is the project: only its files may be read for a post, and only its own
    wxpub.toml (or pyproject.toml's [tool.wxpub]) gives settings (find_settings). A nested
    repository or Python package is a project of its own, not a part of the one around it."""
    return _project_folder(Path(post_path).resolve().parent)


def _project_folder(folder: Path) -> Path:
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    return folder


def user_cache_dir() -> Path:
    """The per-user cache folder (never inside a project): WXPUB_CACHE_DIR, else the platform's."""
    override = os.environ.get("WXPUB_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "wxpub" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "wxpub"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wxpub"


@dataclass(frozen=True)
class CheckOptions:
    """`[check]` in wxpub.toml or `[tool.wxpub.check]` in pyproject.toml: which codes `wxpub check` runs."""

    select: tuple[str, ...] | None = None  # None: every rule
    ignore: tuple[str, ...] = ()
    source: Path | None = None  # the file these came from, for messages


def find_settings(start: str | Path) -> tuple[Mapping[str, Any], Path | None]:
    """The wxpub table of the project's wxpub.toml, or of its pyproject.toml holding [tool.wxpub].

    `start` is a post or a folder; its project is the folder find_project_root names, and only
    that folder's files count: settings of a folder above it belong to another project. A
    wxpub.toml wins over a pyproject.toml. Nothing found: ({}, None).
    """
    folder = Path(start).resolve()
    if folder.is_file():
        folder = folder.parent
    return _settings_in(_project_folder(folder)) or ({}, None)


@lru_cache(maxsize=128)
def _settings_in(folder: Path) -> tuple[Mapping[str, Any], Path] | None:
    own = folder / CONFIG_FILE
    if own.is_file():
        return _load(own), own
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        table = _load(pyproject).get("tool", {}).get("wxpub")
        if isinstance(table, dict):
            return table, pyproject
    return None


def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=path) from None


def table_name(name: str, source: Path | None) -> str:
    """`[name]` as the config file spells it: `[tool.wxpub.name]` in a pyproject.toml."""
    return f"[tool.wxpub.{name}]" if source is not None and source.name == "pyproject.toml" else f"[{name}]"


def key_line(source: Path, name: str, key: str) -> int | None:
    """The line of `key = ...` in the `[name]` table of a config file (1-based), for messages; None
    when it cannot be told (written inline or dotted: the message then names the file alone)."""
    header = table_name(name, source)
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    inside = False
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if text.startswith("["):
            inside = text.split("#", 1)[0].strip().replace(" ", "") == header
        elif inside and text.split("=", 1)[0].strip().strip("\"'") == key and "=" in text:
            return number
    return None


def settings_table(start: str | Path, name: str, known: Iterable[str]) -> tuple[dict[str, Any], Path | None]:
    """The `[name]` table of the settings that apply at `start` (empty if none), and its file.

    Not a table, or a key not in `known`, is a ConfigError naming the file: a typo in a project
    file must not be silently ignored."""
    settings, source = find_settings(start)
    table = settings.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"'{name}' must be a table", path=source, hint=f"write {table_name(name, source)}")
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(f"{table_name(name, source)} has unknown keys: {', '.join(unknown)}", path=source, hint=f"known: {', '.join(sorted(known))}")
    return table, source


def check_options(start: str | Path) -> CheckOptions:
    """The check settings that apply to posts in `start` (a folder or a post)."""
    table, source = settings_table(start, "check", ("select", "ignore"))
    select = table.get("select")
    return CheckOptions(
        select=None if select is None else _codes(select, "select", source),
        ignore=_codes(table.get("ignore", ()), "ignore", source),
        source=source,
    )


def _codes(value: Any, key: str, source: Path | None) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[check] {key} must be a list of codes", path=source, hint=f'write {key} = ["WX401"]')
    return tuple(v.strip().upper() for v in value if v.strip())


def private_hosts_allowed(start: str | Path) -> tuple[str, ...]:
    """`[images] allow_private_hosts`: hosts, addresses or networks off the public internet that image
    downloads may reach (a post is someone's text: by default it cannot make wxpub reach the intranet)."""
    table, source = settings_table(start, "images", ("allow_private_hosts",))
    hosts = table.get("allow_private_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h.strip() for h in hosts):
        raise ConfigError(
            "[images] allow_private_hosts must be a list of host names or addresses",
            path=source, hint='write allow_private_hosts = ["10.0.0.5", "intranet.local"]',
        )
    return tuple(h.strip() for h in hosts)


CONVERT_KEYS = ("theme", "color", "font_size", "line_numbers", "caption", "code_style")


def convert_defaults(start: str | Path) -> dict[str, Any]:
    """`[convert]` defaults for posts in `start`: front matter and command-line options win over them.

    A relative `theme` path is made relative to the config file, so it works from any post.
    """
    table, source = settings_table(start, "convert", CONVERT_KEYS)
    defaults = dict(table)
    theme = defaults.get("theme")
    if isinstance(theme, str) and theme.endswith(".css") and source is not None and not Path(theme).is_absolute():
        defaults["theme"] = str(source.parent / theme)
    return defaults


# The numbers publishing takes, with their bounds: one rule for `PublishOptions` (the API) and for
# `[publish]` in wxpub.toml. Whole numbers where a count is meant; every bound is inclusive.
PUBLISH_NUMBERS: Mapping[str, tuple[bool, float, float]] = {  # key: (whole, lowest, highest)
    "concurrency": (True, 1, 64),  # uploads at a time: a thread each
    "poll_interval": (False, 0, math.inf),  # seconds before the first freepublish/get
    "poll_max": (True, 0, 100),  # freepublish/get allows 100 calls a day
    "settle": (False, 0, math.inf),  # seconds a lost answer is looked for
}


def publish_number_problem(key: str, value: Any) -> str | None:
    """What is wrong with `value` for the publishing number `key`, in words naming it and its range; None when fine."""
    whole, low, high = PUBLISH_NUMBERS[key]
    fine = isinstance(value, int) if whole else isinstance(value, (int, float)) and math.isfinite(value)
    if isinstance(value, bool) or not fine or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        bounds = f"from {low:g} to {high:g}" if math.isfinite(high) else f"of at least {low:g}"
        return f"{key} must be {kind} {bounds}, not {value!r}"
    return None


@dataclass(frozen=True)
class PublishSettings:
    """`[publish]` in wxpub.toml (or [tool.wxpub.publish]); the environment wins where it has a say."""

    ledger: Path
    api_base: str | None = None  # WXPUB_API_BASE only: a project file must not decide where the secret goes
    token_store: str | None = None  # WXPUB_TOKEN_STORE: memory, file, file:DIR, redis://...
    secret_file: Path | None = None  # a file holding the AppSecret, outside the project
    concurrency: int = 4
    poll_interval: float = 5.0  # seconds before the first freepublish/get, doubled after each
    poll_max: int = 8  # freepublish/get allows 100 calls a day
    source: Path | None = None

    @classmethod
    def find(cls, start: str | Path) -> PublishSettings:
        settings, source = find_settings(start)
        table = settings.get("publish", {})
        if not isinstance(table, dict):
            raise ConfigError("'publish' must be a table", path=source, hint="write [publish] (or [tool.wxpub.publish])")
        if {"secret", "appsecret"} & (set(table) | set(settings)):
            raise ConfigError("the AppSecret must not be in a config file", path=source, hint="set WXPUB_SECRET, or secret_file = a path outside the project")
        if "api_base" in table:
            raise ConfigError(
                "[publish] api_base is not read from a project file: it would decide where your AppSecret is sent",
                path=source,
                hint="set WXPUB_API_BASE in your environment instead",
            )
        known = {"ledger", "token_store", "secret_file", "concurrency", "poll_interval", "poll_max", "account"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(f"[publish] has unknown keys: {', '.join(unknown)}", path=source, hint=f"known: {', '.join(sorted(known))}")
        root = source.parent if source is not None else find_project_root(start)

        def path(key: str) -> Path | None:
            value = table.get(key)
            if value is None:
                return None
            if not isinstance(value, str):
                raise ConfigError(f"[publish] {key} must be a path", path=source)
            found = Path(value).expanduser()
            return found if found.is_absolute() else root / found

        def number(key: str) -> Any:
            value = table.get(key, getattr(cls, key))
            problem = publish_number_problem(key, value)
            if problem is not None:
                raise ConfigError(f"[publish] {problem}", path=source, hint=f"write {key} = {getattr(cls, key)!r} (the default)")
            return value

        return cls(
            ledger=path("ledger") or root / LEDGER_FILE,
            api_base=os.environ.get("WXPUB_API_BASE"),
            token_store=os.environ.get("WXPUB_TOKEN_STORE") or table.get("token_store"),
            secret_file=path("secret_file"),
            concurrency=number("concurrency"),
            poll_interval=float(number("poll_interval")),
            poll_max=number("poll_max"),
            source=source,
        )


@dataclass(frozen=True)
class Credentials:
    """The account's AppID and AppSecret, from WXPUB_APPID and WXPUB_SECRET (or secret_file)."""

    appid: str
    secret: str = field(repr=False)
    secret_from: str = "WXPUB_SECRET"  # where the secret was read, in words: what an error tells to check
    appid_from: str = "WXPUB_APPID"  # where the AppID was read, in words, likewise

    @classmethod
    def from_environment(cls, settings: PublishSettings) -> Credentials:
        appid = os.environ.get("WXPUB_APPID", "").strip()
        secret = _secret("WXPUB_SECRET", settings.secret_file, "secret_file")
        if not appid:
            raise ConfigError("WXPUB_APPID is not set", hint="export WXPUB_APPID=wx... (设置与开发 → 基本配置); or try --sandbox first")
        if not secret:
            raise ConfigError("WXPUB_SECRET is not set", hint="export WXPUB_SECRET=..., or name a file with secret_file in [publish]")
        return cls(appid, secret, _secret_from("WXPUB_SECRET", settings.secret_file) or "WXPUB_SECRET")


def _secret_from(variable: str, file: Path | None) -> str | None:
    """Where `_secret` reads the AppSecret, in words (the variable, else the file); None when neither is set."""
    if os.environ.get(variable, "").strip():
        return variable
    return f"secret_file {file}" if file is not None else None


def _secret(variable: str, file: Path | None, what_file: str) -> str:
    """An AppSecret: the environment variable wins, else the file's text ("" when neither has one)."""
    secret = os.environ.get(variable, "").strip()
    if not secret and file is not None:
        try:
            secret = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {what_file}: {exc.strerror}", path=file) from None
    return secret


def shown(path: str | Path) -> str:
    """A path as shown to people: relative to the current folder when it lies inside it, else
    absolute. The current folder itself is absolute too: "outside the project folder ." says nothing."""
    path = Path(path)
    try:
        relative = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        relative = None
    except OSError:
        return str(path)
    # abspath, not resolve: a folder is named as it was reached, not by where its symlinks lead.
    return str(relative) if relative is not None and relative.parts else os.path.abspath(path)


@dataclass(frozen=True)
class PreviewOptions:
    """`[preview]` in wxpub.toml or `[tool.wxpub.preview]`: what the preview shows around the article."""

    account_name: str = ""  # the Official Account's name, shown under the title as WeChat does


def preview_options(start: str | Path) -> PreviewOptions:
    """The preview settings for posts in `start` (a folder or a post)."""
    table, source = settings_table(start, "preview", ("account_name",))
    name = table.get("account_name", "")
    if not isinstance(name, str):
        raise ConfigError("[preview] account_name must be text", path=source, hint='write account_name = "My Account"')
    return PreviewOptions(account_name=name)


def forget_settings() -> None:
    """Read the config files again next time: a long-running process (the preview) saw one change."""
    _settings_in.cache_clear()


# --- accounts -------------------------------------------------------------------------------------
ACCOUNT_KEYS = ("appid", "name", "author", "theme", "header", "footer", "secret_file")


@dataclass(frozen=True)
class Account:
    """One Official Account of the project: `[accounts.NAME]` in wxpub.toml (never its secret)."""

    key: str  # NAME in [accounts.NAME]
    appid: str
    name: str = ""  # the account's display name
    author: str = ""  # the author of posts that name none
    theme: str | None = None
    header: str | None = None  # a block path, relative to the project root
    footer: str | None = None
    secret_file: Path | None = None
    root: Path = Path(".")  # the folder of the config file: block paths are relative to it
    source: Path | None = None

    @property
    def secret_variable(self) -> str:
        """The environment variable holding this account's AppSecret: WXPUB_SECRET_<NAME>."""
        return "WXPUB_SECRET_" + "".join(c if c.isalnum() else "_" for c in self.key.upper())

    def secret_from(self) -> str | None:
        """Where the secret would come from, in words (the secret itself is never shown); None when nowhere."""
        return _secret_from(self.secret_variable, self.secret_file)

    def secret_source(self) -> str:
        """Where the secret would come from, or what to set, in words."""
        return self.secret_from() or f"missing (set {self.secret_variable})"

    def appid_from(self) -> str:
        """Where the AppID was read, in words: `[accounts.NAME] appid in wxpub.toml`."""
        if self.source is not None and self.source.name == "pyproject.toml":
            return f"[tool.wxpub.accounts.{self.key}] appid in {shown(self.source)}"
        return f"[accounts.{self.key}] appid in {shown(self.source) if self.source is not None else CONFIG_FILE}"

    def to_json(self, default: bool = False) -> dict[str, Any]:
        """What `wxpub accounts --json` says of it: never the secret, only where it comes from (null: nowhere yet)."""
        return {
            "account": self.key, "default": default, "appid": self.appid, "name": self.name, "author": self.author,
            "theme": self.theme, "header": self.header, "footer": self.footer,
            "secret_from": self.secret_from(), "secret_variable": self.secret_variable,
        }


@dataclass(frozen=True)
class Accounts:
    """The accounts of a project, in the order the config file lists them, and which one is the default."""

    accounts: Mapping[str, Account]
    default: str | None
    source: Path | None

    def choose(self, name: str | None) -> Account | None:
        """The account called `name`, else the default; None when the project names no account."""
        if not self.accounts:
            if name:
                raise ConfigError(f"no account '{name}': the project has no [accounts.NAME] table", path=self.source,
                                  hint="add [accounts.NAME] with appid = \"wx...\" to wxpub.toml")
            return None
        chosen = name or self.default or ""
        if chosen not in self.accounts:
            raise ConfigError(f"no account '{chosen}' in the project", path=self.source, hint=f"known: {', '.join(self.accounts)}")
        return self.accounts[chosen]


def project_accounts(start: str | Path) -> Accounts:
    """`[accounts.NAME]` tables for posts in `start`; the default is `[publish] account`, else the first listed."""
    settings, source = find_settings(start)
    table = settings.get("accounts", {})
    if not isinstance(table, dict):
        raise ConfigError("'accounts' must be a table of tables", path=source, hint="write [accounts.main] then appid = \"wx...\"")
    root = source.parent if source is not None else find_project_root(start)
    found: dict[str, Account] = {}
    for key, entry in table.items():
        where = f"[accounts.{key}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table", path=source, hint=f"write {where} then appid = \"wx...\"")
        if {"secret", "appsecret"} & set(entry):
            raise ConfigError(f"{where}: the AppSecret must not be in a config file", path=source,
                              hint=f"set {Account(key, '').secret_variable}, or secret_file = a path outside the project")
        unknown = sorted(set(entry) - set(ACCOUNT_KEYS))
        if unknown:
            raise ConfigError(f"{where} has unknown keys: {', '.join(unknown)}", path=source, hint=f"known: {', '.join(ACCOUNT_KEYS)}")
        values = {k: entry.get(k) for k in ACCOUNT_KEYS}
        for k, v in values.items():
            if v is not None and not isinstance(v, str):
                raise ConfigError(f"{where} {k} must be text", path=source, hint=f'write {k} = "..."')
        appid = (values["appid"] or "").strip()
        if not appid.startswith("wx"):
            raise ConfigError(f"{where} needs appid = \"wx...\"", path=source, hint="the AppID is under 设置与开发 → 基本配置")
        secret_file = Path(values["secret_file"]).expanduser() if values["secret_file"] else None
        theme = values["theme"]
        if theme and theme.endswith(".css") and not Path(theme).is_absolute():
            theme = str(root / theme)
        found[key] = Account(
            key=key, appid=appid, name=values["name"] or "", author=values["author"] or "", theme=theme,
            header=values["header"], footer=values["footer"],
            secret_file=secret_file if secret_file is None or secret_file.is_absolute() else root / secret_file,
            root=root, source=source,
        )
    publish = settings.get("publish", {})
    default = publish.get("account") if isinstance(publish, dict) else None
    if default is not None and default not in found:
        raise ConfigError(f"[publish] account = {default!r} names no [accounts.{default}]", path=source, hint=f"known: {', '.join(found) or 'none'}")
    return Accounts(found, default or next(iter(found), None), source)


@dataclass(frozen=True)
class StandIn:
    """A server standing in for WeChat (the sandbox): every account keeps its own AppID there, so that
    drafts, uploads, quotas and ledgers stay per account as on WeChat, and each uses the stand-in's
    one secret, never the account's own (which must not leave for a stand-in)."""

    appid: str  # for a project without [accounts]
    secret: str = field(repr=False)
    name: str = "the sandbox"

    def credentials(self, account: Account | None) -> Credentials:
        if account is None:
            return Credentials(self.appid, self.secret, f"{self.name}'s secret", f"{self.name}'s AppID")
        return Credentials(account.appid, self.secret, f"{self.name}'s secret", account.appid_from())


def credentials_of(account: Account | None, settings: PublishSettings, given: Credentials | StandIn | None = None) -> Credentials:
    """The credentials to publish with: `given` ones, else the account's, else WXPUB_APPID's for a project
    without accounts. A stand-in keeps the account's AppID and gives its own secret."""
    if isinstance(given, Credentials):
        return given
    if isinstance(given, StandIn):
        return given.credentials(account)
    return account_credentials(account) if account is not None else Credentials.from_environment(settings)


def appid_of(account: Account | None, given: Credentials | StandIn | None = None) -> str:
    """The AppID posts of `account` go to, read without their secret ("" when none is set): what a
    dry run and `publish --changed` key the ledger on."""
    if isinstance(given, Credentials):
        return given.appid
    if account is not None:
        return account.appid
    if isinstance(given, StandIn):
        return given.appid
    return os.environ.get("WXPUB_APPID", "").strip()


def account_credentials(account: Account) -> Credentials:
    """The AppID of an account and its AppSecret, from WXPUB_SECRET_<NAME>, else its secret_file."""
    secret = _secret(account.secret_variable, account.secret_file, f"the secret_file of account '{account.key}'")
    if not secret:
        raise ConfigError(
            f"no AppSecret for account '{account.key}'",
            path=account.source,
            hint=f"export {account.secret_variable}=... (in CI: a repository secret), or set secret_file in [accounts.{account.key}]",
        )
    return Credentials(account.appid, secret, account.secret_source(), account.appid_from())
