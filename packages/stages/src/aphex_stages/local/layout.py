"""Where a repository's local runs keep their state, and how they read the repository."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aphex_config import AphexConfig, parse_config
from aphex_generator import CONFIG_FILE

__all__ = [
    "LOCAL_BUCKET",
    "LocalPaths",
    "LocalRunError",
    "config_at",
    "config_bytes_at",
    "repository_top",
    "resolve_commit",
]

#: The artifact bucket of local runs (in the embedded AWS).
LOCAL_BUCKET = "aphex-local-artifacts"


class LocalRunError(Exception):
    """The local run could not start or go on; the message says what to do."""


@dataclass(frozen=True)
class LocalPaths:
    """Where a repository's local runs keep their state: `<repo>/.aphex/local/`."""

    root: Path

    @property
    def cluster_state(self) -> Path:
        """The embedded Kubernetes API server's objects (templates, workflows, ...)."""
        return self.root / "cluster.json"

    @property
    def aws(self) -> Path:
        """The embedded AWS's folder: moto's logs and its saved resources."""
        return self.root / "aws"

    @property
    def aws_state(self) -> Path:
        """The embedded AWS's resources, kept between runs (`aphex local reset` removes them)."""
        return self.aws / "state.bin"

    @property
    def tmp(self) -> Path:
        """TMPDIR of every process a run starts; emptied at the end of the run."""
        return self.root / "tmp"

    @property
    def runs(self) -> Path:
        """One folder per workflow: each task's log and run record."""
        return self.root / "runs"

    @property
    def locks(self) -> Path:
        """The mutexes every local run of the repository shares."""
        return self.root / "locks"

    @property
    def secrets(self) -> Path:
        """``<name>/<key>`` files: the Secrets a local run installs (pods read them by
        secretKeyRef, as on a cluster)."""
        return self.root / "secrets"

    @property
    def records(self) -> Path:
        """Monitoring's records, kept also outside the embedded AWS (put back into its bucket
        at every run)."""
        return self.root / "records"

    @classmethod
    def of(cls, repo: Path) -> LocalPaths:
        """The paths of the repository whose top folder is `repo`."""
        return cls(repo / ".aphex" / "local")

    def create(self) -> None:
        """Make the folders; `.aphex/` ignores itself, so it never shows in `git status`."""
        self.root.mkdir(parents=True, exist_ok=True)
        ignore = self.root.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# aphex run --local: logs, records, local state\n*\n")


def uncommitted_files(repo: Path, limit: int = 5) -> tuple[int, list[str]]:
    """How many paths of the working tree differ from HEAD (untracked included), and the
    first `limit` of them: what a run of HEAD does not contain."""
    import git

    lines = git.Repo(repo).git.status("--porcelain", "--untracked-files=normal").splitlines()
    paths = [line[3:] for line in lines if line[3:] and not line[3:].startswith(".aphex/")]
    return len(paths), paths[:limit]


def _open_repository(repo: Path) -> Any:
    import git

    try:
        return git.Repo(repo, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as error:
        raise LocalRunError(f"{repo} is not a git repository: {error}") from None


def repository_top(repo: Path) -> Path:
    """The top folder of the git repository `repo` lies in (LocalRunError if none)."""
    return Path(_open_repository(repo).working_tree_dir or repo)


def resolve_commit(repo: Path, commit: str | None) -> tuple[Path, str]:
    """The repository's top folder and the full SHA of `commit` (default HEAD)."""
    import git

    handle = _open_repository(repo)
    try:
        sha = handle.commit(commit or "HEAD").hexsha
    except (git.BadName, ValueError) as error:
        raise LocalRunError(f"no commit {commit or 'HEAD'!r} in {repo}: {error}") from None
    return Path(handle.working_tree_dir or repo), sha


def config_bytes_at(repo: Path, sha: str) -> bytes:
    """The config file's bytes as committed at `sha` (LocalRunError when it is missing)."""
    import git

    try:
        blob = git.Repo(repo).commit(sha).tree / CONFIG_FILE
    except KeyError:
        raise LocalRunError(f"{CONFIG_FILE} is not committed at {sha[:12]}") from None
    data: bytes = blob.data_stream.read()
    return data


def config_at(repo: Path, sha: str) -> AphexConfig:
    """The config file as committed at `sha` (ConfigError when it is missing or invalid)."""
    return parse_config(config_bytes_at(repo, sha), source=CONFIG_FILE)
