"""`wxpub doctor`: each account checked for real, one line per finding: the token, the API base,
and today's quota of the calls wxpub makes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Account, Credentials, PublishSettings, StandIn, credentials_of, project_accounts
from .errors import WxpubError

if TYPE_CHECKING:
    from .wechat import WeChat

# The calls one publish makes, in the order it makes them (openapi/quota/get names each one).
CALLS = ("stable_token", "media/uploadimg", "material/add_material", "draft/add", "draft/update", "draft/get", "freepublish/submit", "freepublish/get")


@dataclass(frozen=True)
class Checked:
    """One line of the doctor's report: an account, what was looked at, and whether it is fine."""

    account: str
    what: str
    ok: bool
    text: str

    def line(self) -> str:
        return f"{'ok ' if self.ok else 'BAD'} {self.account}: {self.what}: {self.text}"


@dataclass(frozen=True)
class DoctorReport:
    """Every account's lines; the exit code is 1 when one of them is not fine."""

    checked: tuple[Checked, ...]

    def lines(self) -> list[str]:
        return [c.line() for c in self.checked]

    @property
    def exit_code(self) -> int:
        return 0 if all(c.ok for c in self.checked) else 1


def doctor(
    start: str | Path = ".",
    account: str | None = None,
    *,
    api_base: str | None = None,
    token_store: str | None = None,
    credentials: Credentials | StandIn | None = None,
) -> DoctorReport:
    """Check the named account, or every account of the project (WXPUB_APPID's when it names none).

    `credentials` stand in for every account's own: one account's for all, or a stand-in's secret
    with each account's AppID (the sandbox's, for `doctor --sandbox`)."""
    accounts = project_accounts(start)
    settings = PublishSettings.find(start)
    chosen: list[Account | None] = [accounts.choose(account)] if account or not accounts.accounts else list(accounts.accounts.values())
    checked: list[Checked] = []
    for entry in chosen:
        checked.extend(_check(entry, settings, api_base or settings.api_base, token_store or "memory", credentials))
    return DoctorReport(tuple(checked))


def _check(
    account: Account | None, settings: PublishSettings, api_base: str | None, token_store: str, given: Credentials | StandIn | None
) -> list[Checked]:
    from .wechat import DEFAULT_API_BASE, WeChat, normalize_base

    base = normalize_base(api_base or DEFAULT_API_BASE)
    try:
        credentials = credentials_of(account, settings, given)
    except WxpubError as error:
        name = account.key if account else "WXPUB_APPID"
        return [Checked(name, "token", False, _sentence(error))]
    name = f"{account.key} ({credentials.appid})" if account else credentials.appid
    client = WeChat(credentials.appid, credentials.secret, api_base=base, storage=token_store, secret_from=credentials.secret_from, appid_from=credentials.appid_from)
    try:
        client.ensure_token()
    except WxpubError as error:
        answered = getattr(error, "errcode", None) is not None
        return [
            Checked(name, "token", False, _sentence(error)),
            Checked(name, "api base", answered, f"{base} answered" if answered else f"{base} cannot be reached"),
        ]
    lines = [Checked(name, "token", True, "the AppSecret works"), Checked(name, "api base", True, f"{base} answered")]
    return lines + [_quota(client, name)]


def _quota(client: WeChat, name: str) -> Checked:
    parts, low = [], []
    for call in CALLS:
        try:
            quota = client.quota(call)
        except WxpubError as error:
            return Checked(name, "quota today", False, f"{call}: {_sentence(error)}")
        parts.append(f"{call} {quota['used']}/{quota['daily_limit']}")
        if quota["daily_limit"] and quota["remain"] == 0:
            low.append(call)
    text = ", ".join(parts) + (f"; used up: {', '.join(low)} (wait until tomorrow)" if low else "")
    return Checked(name, "quota today", not low, text)


def _sentence(error: WxpubError) -> str:
    return f"{error.message} ({error.hint})" if error.hint else error.message
