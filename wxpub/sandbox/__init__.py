"""A local stand-in for the WeChat API on 127.0.0.1, for tests and for a first try without an account.

It speaks the endpoints wxpub uses (token, stable_token, media/uploadimg, material/*, draft/*,
freepublish/*, message/mass/preview) with the documented limits and error codes, keeps what
WeChat's editor would keep of each article, keeps its state in a folder (state.json and the
uploaded files), serves the uploaded images back, shows the drafts as pages (`/`), and injects
faults on request (`Sandbox.inject`, or `POST /sandbox/faults`).

- `api.py`: the endpoints, tokens, quotas and state;
- `editor.py`: what WeChat keeps of an article's content (asking `wxpub.profile`);
- `server.py`: HTTP on 127.0.0.1, faults, the control endpoints, the owner's proof;
- `folder.py`: one running sandbox per state folder, and where it listens;
- `pages.py`: the pages that show drafts and published articles;
- `join.py`: finding this user's running sandbox, or starting one, for `publish --sandbox`.

Only the standard library is used, besides wxpub's tables of limits and of the WeChat profile.
"""

from __future__ import annotations

from .api import SANDBOX_APPID, SANDBOX_SECRET, ApiError
from .folder import StateHeld
from .join import DEFAULT_SANDBOX_PORT, DraftAddress, Joined, join_sandbox, owner_key, publish_to_sandbox, running_sandbox, sandbox_port, sandbox_state_dir
from .server import Call, Fault, Sandbox

__all__ = [
    "DEFAULT_SANDBOX_PORT",
    "SANDBOX_APPID",
    "SANDBOX_SECRET",
    "ApiError",
    "Call",
    "DraftAddress",
    "Fault",
    "Joined",
    "Sandbox",
    "StateHeld",
    "join_sandbox",
    "owner_key",
    "publish_to_sandbox",
    "running_sandbox",
    "sandbox_port",
    "sandbox_state_dir",
]
