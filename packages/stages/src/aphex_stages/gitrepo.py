"""Check out exactly one commit: ``git init``, a depth-1 fetch of that SHA, a detached checkout.

No branch is cloned and no history beyond the commit is fetched. Servers that refuse to
send an unadvertised SHA (protocol v0 without ``uploadpack.allowReachableSHA1InWant``) get
a fallback: a depth-1 fetch of every branch and tag, then the full history if needed.

Private repositories: a token or an SSH key from files a Kubernetes Secret mounts.

* ``APHEX_GIT_TOKEN_FILE``: a ``GIT_ASKPASS`` helper (in a private temporary directory,
  outside the checkout) answers git's password prompt by reading the file itself. The
  token is never in the URL, an argv, a log line or the ``.git/config`` left behind;
  credential helpers are disabled for the fetch so that none can store it.
  ``APHEX_GIT_USERNAME`` (default ``x-access-token``) is the user name sent with it.
* ``APHEX_GIT_SSH_KEY_FILE``: the key is copied with mode 0600 (Secret volumes mount
  files 0644, which ssh refuses) and used through ``GIT_SSH_COMMAND``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import git

from aphex_generator import EnvVar
from aphex_monitoring import redact, register_secret
from aphex_stages.errors import ExitCode, StageError
from aphex_stages.inputs import check_commit

__all__ = [
    "SSH_KEY_FILE_ENV",
    "TOKEN_FILE_ENV",
    "USERNAME_ENV",
    "Checkout",
    "GitCredentials",
    "clone_commit",
    "open_checkout",
    "ssh_command",
]

TOKEN_FILE_ENV = EnvVar.GIT_TOKEN_FILE
SSH_KEY_FILE_ENV = EnvVar.GIT_SSH_KEY_FILE
USERNAME_ENV = EnvVar.GIT_USERNAME
_DEFAULT_USER = "x-access-token"

_log = logging.getLogger(__name__)

_TRANSIENT = (
    "could not resolve host",
    "failed to connect",
    "connection timed out",
    "connection reset",
    "operation timed out",
    "timed out after",
    "did not complete in",  # GitPython's kill_after_timeout
    "temporary failure",
    "the remote end hung up unexpectedly",
    "early eof",
    "rpc failed",
    "unexpected disconnect",
    "gnutls",
    "ssl_read",
    "error: 500",
    "error: 502",
    "error: 503",
    "error: 504",
    "returned error: 429",
)
_AUTH = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "permission denied (publickey",
    "invalid username or password",
    "returned error: 401",
    "returned error: 403",
)
_NOT_FOUND = ("not our ref", "couldn't find remote ref")
_REFUSED = ("unadvertised object", "allowreachablesha1inwant", "allowanysha1inwant")


@dataclass(frozen=True)
class GitCredentials:
    """Where the credentials for a private repository are mounted (files, never values)."""

    token_file: Path | None = None
    ssh_key_file: Path | None = None
    username: str = _DEFAULT_USER

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GitCredentials:
        """Read ``APHEX_GIT_TOKEN_FILE``, ``APHEX_GIT_SSH_KEY_FILE`` and ``APHEX_GIT_USERNAME``."""
        env = os.environ if environ is None else environ
        token = (env.get(TOKEN_FILE_ENV) or "").strip()
        key = (env.get(SSH_KEY_FILE_ENV) or "").strip()
        return cls(
            token_file=Path(token) if token else None,
            ssh_key_file=Path(key) if key else None,
            username=(env.get(USERNAME_ENV) or "").strip() or _DEFAULT_USER,
        )


@dataclass(frozen=True)
class Checkout:
    """A working tree at exactly one commit (detached HEAD, depth 1)."""

    path: Path
    commit: str
    url: str
    committed_at: datetime
    seconds: float


def ssh_command(key_file: Path) -> str:
    """``GIT_SSH_COMMAND`` that uses only ``key_file`` and never prompts (path shell-quoted)."""
    return shlex.join(
        [
            "ssh",
            "-i",
            str(key_file),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            "BatchMode=yes",
        ]
    )


def _read_mounted(path: Path, variable: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise StageError(
            ExitCode.USAGE,
            f"{variable}={path} cannot be read ({error.strerror}); mount the Secret there",
        ) from None
    if not data.strip():
        raise StageError(ExitCode.USAGE, f"{variable}={path} is empty")
    return data


def _askpass_script(token_file: Path, username: str) -> str:
    return (
        "#!/bin/sh\n"
        "# Answers git's prompts: the user name, then the token read from the mounted file.\n"
        'case "$1" in\n'
        f"  [Uu]sername*) printf '%s\\n' {shlex.quote(username)} ;;\n"
        f"  *) tr -d '\\r\\n' < {shlex.quote(str(token_file.absolute()))}; echo ;;\n"
        "esac\n"
    )


@contextlib.contextmanager
def _auth_environment(credentials: GitCredentials) -> Iterator[dict[str, str]]:
    """Environment for git with the credentials wired in; helper files removed afterwards."""
    env = {"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never"}
    scratch = Path(tempfile.mkdtemp(prefix="aphex-git-auth-"))  # mode 0700
    try:
        if credentials.token_file is not None:
            token = _read_mounted(credentials.token_file, TOKEN_FILE_ENV)
            register_secret(token.decode("utf-8", errors="replace").strip())
            script = scratch / "askpass.sh"
            script.write_text(_askpass_script(credentials.token_file, credentials.username))
            script.chmod(stat.S_IRWXU)
            env["GIT_ASKPASS"] = str(script)
            # No credential helper may see (and store) the token: an empty value resets the list.
            env["GIT_CONFIG_COUNT"] = "1"
            env["GIT_CONFIG_KEY_0"] = "credential.helper"
            env["GIT_CONFIG_VALUE_0"] = ""
        if credentials.ssh_key_file is not None:
            key = _read_mounted(credentials.ssh_key_file, SSH_KEY_FILE_ENV)
            copy = scratch / "id_key"
            fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(key if key.endswith(b"\n") else key + b"\n")
            env["GIT_SSH_COMMAND"] = ssh_command(copy)
        yield env
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https", "ssh") and parts.password:
        raise StageError(
            ExitCode.USAGE,
            "--repository must not carry credentials; mount a token file and set "
            f"{TOKEN_FILE_ENV} instead",
        )


def _lines(text: str) -> list[str]:
    return [redact(line.rstrip()) for line in text.splitlines() if line.strip()]


def _last(text: str) -> str:
    lines = [line for line in _lines(text) if not line.lower().startswith(("hint:", "warning:"))]
    return lines[-1] if lines else "no output"


class _GitFailure(Exception):
    def __init__(self, args: Sequence[str], status: int, stderr: str) -> None:
        super().__init__(stderr)
        self.argv = tuple(args)
        self.status = status
        self.stderr = stderr

    def has(self, needles: Sequence[str]) -> bool:
        lowered = self.stderr.lower()
        return any(needle in lowered for needle in needles)


class _Git:
    """Run git in one repository with one environment; failures become _GitFailure."""

    def __init__(self, repo: git.Repo, env: Mapping[str, str], timeout: float) -> None:
        self._repo = repo
        self._env = dict(env)
        self._timeout = timeout

    def __call__(self, *args: str) -> str:
        status, stdout, stderr = self._repo.git.execute(
            ["git", *args],
            env=self._env,
            kill_after_timeout=self._timeout,
            with_extended_output=True,
            with_exceptions=False,
        )
        if status != 0:
            raise _GitFailure(args, int(status or 1), str(stderr))
        return str(stdout)

    def has_commit(self, commit: str) -> bool:
        try:
            return self("cat-file", "-t", commit).strip() == "commit"
        except _GitFailure:
            return False


def _fetch(
    gitcmd: _Git,
    args: Sequence[str],
    *,
    url: str,
    attempts: int,
    backoff: float,
    log: logging.Logger,
) -> None:
    """``git fetch ARGS``, retried with exponential backoff on transient network errors."""
    for attempt in range(1, max(1, attempts) + 1):
        try:
            gitcmd("-c", "maintenance.auto=false", "fetch", *args)
            return
        except _GitFailure as failure:
            if not failure.has(_TRANSIENT) or attempt >= attempts:
                raise
            delay = backoff * 2 ** (attempt - 1)
            log.warning(
                "fetch from %s failed (%s); retry %d/%d in %.1f s",
                url,
                _last(failure.stderr),
                attempt,
                attempts - 1,
                delay,
            )
            time.sleep(delay)


def _fail(failure: _GitFailure, url: str, what: str) -> StageError:
    last = _last(failure.stderr)
    details = _lines(failure.stderr)
    if failure.has(_AUTH):
        return StageError(
            ExitCode.GIT_FAILED,
            f"authentication to {url} failed ({last}); mount a token ({TOKEN_FILE_ENV}) or an "
            f"SSH key ({SSH_KEY_FILE_ENV}) that can read the repository",
            details=details,
        )
    if failure.has(_TRANSIENT):
        return StageError(
            ExitCode.GIT_FAILED,
            f"cannot reach {url} ({last}); check the network and the repository URL",
            details=details,
        )
    return StageError(ExitCode.GIT_FAILED, f"{what} failed: {last}", details=details)


def _not_found(commit: str, url: str, failure: _GitFailure | None) -> StageError:
    return StageError(
        ExitCode.GIT_FAILED,
        f"commit {commit} not found in {url}: it was never pushed there or was force-pushed "
        "away; push it, or check the commit and repository the run was started with",
        details=_lines(failure.stderr) if failure is not None else (),
    )


def _fetch_commit(
    gitcmd: _Git, url: str, commit: str, *, attempts: int, backoff: float, log: logging.Logger
) -> None:
    try:
        _fetch(
            gitcmd,
            ["--depth=1", "--no-tags", "origin", commit],
            url=url,
            attempts=attempts,
            backoff=backoff,
            log=log,
        )
        return
    except _GitFailure as failure:
        if not failure.has(_NOT_FOUND + _REFUSED):
            raise _fail(failure, url, f"git fetch of {commit[:12]} from {url}") from None
        first = failure
    # The server refused the SHA (or does not have it): try the branch and tag tips.
    log.info("%s did not send %s by SHA; trying its branch and tag tips", url, commit[:12])
    refs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
    try:
        _fetch(
            gitcmd,
            ["--depth=1", "origin", *refs],
            url=url,
            attempts=attempts,
            backoff=backoff,
            log=log,
        )
        if gitcmd.has_commit(commit):
            return
        if first.has(_REFUSED):  # the commit may be deeper in the history
            _fetch(
                gitcmd,
                ["--unshallow", "origin", *refs],
                url=url,
                attempts=attempts,
                backoff=backoff,
                log=log,
            )
    except _GitFailure as failure:
        raise _fail(failure, url, f"git fetch from {url}") from None
    if not gitcmd.has_commit(commit):
        raise _not_found(commit, url, first)


def _prepare(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise StageError(ExitCode.FAILED, f"checkout directory {dest} exists and is not empty")
    dest.mkdir(parents=True, exist_ok=True)


def clone_commit(
    url: str,
    commit: str,
    dest: str | os.PathLike[str],
    *,
    credentials: GitCredentials | None = None,
    attempts: int = 3,
    backoff: float = 1.0,
    timeout: float = 600.0,
    log: logging.Logger | None = None,
) -> Checkout:
    """Check out ``commit`` of ``url`` into ``dest`` (absent or empty) and verify HEAD.

    Raises StageError: USAGE for a malformed SHA or credentials in the URL, GIT_FAILED
    when the repository cannot be read or does not have the commit. Transient network
    errors are retried ``attempts`` times in all, waiting ``backoff``, 2x``backoff``, ...
    ``timeout`` bounds each git command.
    """
    logger = log or _log
    check_commit(commit)
    _check_url(url)
    target = Path(dest).absolute()
    creds = credentials if credentials is not None else GitCredentials.from_env()
    started = time.monotonic()
    _prepare(target)
    repo = git.Repo.init(target)
    try:
        # What `git remote add origin URL` writes, without a process of its own.
        with repo.config_writer() as config:
            config.set_value('remote "origin"', "url", url)
            config.set_value('remote "origin"', "fetch", "+refs/heads/*:refs/remotes/origin/*")
        with _auth_environment(creds) as env:
            gitcmd = _Git(repo, env, timeout)
            _fetch_commit(gitcmd, url, commit, attempts=attempts, backoff=backoff, log=logger)
            try:
                gitcmd("-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit)
            except _GitFailure as failure:
                if "reference is not a tree" in failure.stderr or not gitcmd.has_commit(commit):
                    raise StageError(
                        ExitCode.GIT_FAILED,
                        f"{commit} in {url} is not a commit",
                        details=_lines(failure.stderr),
                    ) from None
                raise _fail(failure, url, f"git checkout of {commit[:12]}") from None
            try:
                head, committed_at = _head(gitcmd)
            except _GitFailure as failure:
                raise _fail(failure, url, "reading HEAD after checkout") from None
        if head != commit:
            raise StageError(
                ExitCode.GIT_FAILED, f"checked out {head} where {commit} was asked for"
            )
        return Checkout(
            path=target,
            commit=commit,
            url=url,
            committed_at=committed_at,
            seconds=time.monotonic() - started,
        )
    finally:
        repo.close()


def open_checkout(path: str | os.PathLike[str], commit: str) -> Checkout:
    """The checkout another container of the pod made at ``path``, verified to be exactly
    ``commit`` (no network, no credentials). StageError(GIT_FAILED) when it is not."""
    check_commit(commit)
    target = Path(path).absolute()
    started = time.monotonic()
    try:
        repo = git.Repo(target)
    except (git.exc.InvalidGitRepositoryError, git.exc.NoSuchPathError):
        raise StageError(
            ExitCode.GIT_FAILED,
            f"no checkout at {target}: the pod's checkout container did not make one",
        ) from None
    try:
        gitcmd = _Git(repo, {"GIT_TERMINAL_PROMPT": "0"}, 60.0)
        try:
            head, committed_at = _head(gitcmd)
            url = gitcmd("config", "--get", "remote.origin.url").strip()
        except _GitFailure as failure:
            raise _fail(failure, str(target), "reading the checkout's HEAD") from None
    finally:
        repo.close()
    if head != commit:
        raise StageError(ExitCode.GIT_FAILED, f"the checkout at {target} is {head}, not {commit}")
    return Checkout(
        path=target,
        commit=commit,
        url=url,
        committed_at=committed_at,
        seconds=time.monotonic() - started,
    )


def _head(gitcmd: _Git) -> tuple[str, datetime]:
    """HEAD's commit and commit time (_GitFailure when git cannot read them)."""
    head, _, stamp = gitcmd("log", "-1", "--format=%H %ct", "HEAD").partition(" ")
    return head, datetime.fromtimestamp(int(stamp), UTC)
