"""The feedpress benchmark: build the synthetic newsroom, time it, compare with Hugo.

Run it as `bench/run` (see bench/README.md). For each corpus size it measures, with the
median of `--runs` runs each:

1. cold builds (empty output, no cache): feedpress with `formats: [rss, atom]`, feedpress
   with the default three formats, and Hugo writing RSS and Atom feeds of the same corpus;
2. feedpress rebuilds, with the default config, of an output that is already built: with
   nothing changed, after one sentence is appended to the newest post, after one new post.

Wall time is measured around the child process. Memory is reported twice: the maximum
resident set size of the largest single process, as the kernel reports it to `wait4()`
(what GNU time's `%M` reads), and the peak of all the child's processes together, which
differs when feedpress forks workers (see `TreeSampler`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import generate

BENCH = Path(__file__).resolve().parent
NOW = "2030-01-01T00:00Z"
CONFIG_ALL = "feedpress.yaml"
CONFIG_RSS_ATOM = "feedpress-rss-atom.yaml"
DIRTY = ".bench-dirty"
ADDED_POST = "2029-12-31-bench-added-post.md"
APPENDED = "\nOne sentence appended by bench/run to measure an edit.\n"
_WRITTEN = re.compile(r"([\d,]+) files? written")


@dataclass(frozen=True)
class Run:
    """One finished child process."""

    wall: float
    max_rss_mb: float  # the largest single process (wait4)
    tree_mb: float  # all its processes together (see TreeSampler)
    processes: int
    code: int
    stdout: str
    stderr: str

    def progress(self) -> str:
        return (f"{self.wall:.2f}s, max RSS {self.max_rss_mb:.0f} MB, "
                f"{self.tree_mb:.0f} MB in {self.processes} process(es)")


@dataclass
class Result:
    """The runs of one workload, and what it wrote."""

    workload: str
    posts: int
    tool: str
    walls: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    tree: list[float] = field(default_factory=list)
    processes: int = 1
    files: int | None = None
    error: str | None = None
    hugo: Result | None = None
    baseline: Result | None = None  # the same corpus without what this run adds

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def max_rss(self) -> float:
        return statistics.median(self.rss)

    @property
    def tree_mb(self) -> float:
        return statistics.median(self.tree)

    def add(self, run: Run) -> None:
        self.walls.append(run.wall)
        self.rss.append(run.max_rss_mb)
        self.tree.append(run.tree_mb)
        self.processes = max(self.processes, run.processes)


class TreeSampler(threading.Thread):
    """Samples the memory of a process's descendants while it has any.

    `wait4()` gives the peak RSS of the largest single process only. feedpress forks
    worker processes, so while the tree has more than one process this sums their PSS
    (proportional set size: pages shared after fork() counted once in all) every
    `interval` seconds. Reading PSS makes the kernel walk the page tables, which is why it
    is read only while there are workers, and not too often.
    """

    def __init__(self, root: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.peak_kb = 0
        self.most_processes = 1
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            pids = descendants(self.root)
            self.most_processes = max(self.most_processes, len(pids))
            if len(pids) > 1:
                self.peak_kb = max(self.peak_kb, sum(pss_kb(pid) for pid in pids))


def descendants(root: int) -> list[int]:
    """`root` and every process below it, from /proc/PID/task/TID/children."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as stream:
                    todo.extend(int(child) for child in stream.read().split())
        except OSError:
            continue
    return found


def pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as stream:
            for line in stream:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


# Python may cache compiled bytecode, as it does for any installed package (pip compiles it at
# install time): a sandbox that turns that off would otherwise time feedpress compiling its
# own source on every run, which no installed copy does. The warm-up run fills the cache.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measured(command: Sequence[str | Path], cwd: Path) -> Run:
    """Run `command` to its end: its wall time, its peak memory and what it printed."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in command], cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, env=CHILD_ENV)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            sampler.done.set()
        wall = time.perf_counter() - started
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(wall, usage.ru_maxrss / 1024, max(usage.ru_maxrss, sampler.peak_kb) / 1024,
                   sampler.most_processes, proc.returncode,
                   out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))


def failure(run: Run, command: str) -> str:
    """The command and the end of what it printed (where a message or traceback ends)."""
    lines = (run.stderr.strip() or run.stdout.strip()).splitlines()
    cut = f"... ({len(lines) - 20} lines before)\n" if len(lines) > 20 else ""
    return f"`{command}` exited with {run.code}:\n{cut}" + "\n".join(lines[-20:])


def count_files(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))


def remove(*paths: Path) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


TRASH = BENCH / "out" / "trash"


def set_aside(*paths: Path) -> None:
    """Clear the way for a cold build: move what the last one left into `TRASH` and empty
    its files, rather than delete them. The trash is deleted when the benchmark is over
    (`empty_trash`).

    Deleting them would slow down the build timed next, by an amount that has nothing
    to do with the tool: on ext4 without a journal (this workplace's machines), a new
    file skips every inode freed in the last 60 s (360 s while its inode table is
    unwritten), one lookup each (the kernel's `recently_deleted`), so that creating N
    files after deleting M costs N x M lookups. Deleting the last build's 1,600 files
    before each run put 13 % of a 10,000-post feedpress build's CPU time in the kernel's
    inode allocation, more with each run as the deleted piled up. A move frees no inode.

    Keeping the files whole would slow it down another way: their pages stay cached, so
    the next build's output goes into memory never touched before, which on a virtual
    machine costs the host's page faults (a fifth of a build's time in the kernel's copy
    of written data). An emptied file gives its pages back for the next build, as a
    deleted one does. The disk is brought up to date last, so that the kernel's writing
    of the last run's output does not happen in the middle of the next.
    """
    TRASH.mkdir(parents=True, exist_ok=True)
    for path in paths:
        if path.exists() or path.is_symlink():
            moved = Path(tempfile.mkdtemp(dir=TRASH)) / path.name
            path.rename(moved)
            _empty_files(moved)
    os.sync()


def _empty_files(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        if path.is_file() and not path.is_symlink():
            os.truncate(path, 0)
        return
    for folder, _, files in os.walk(path):
        for name in files:
            file = Path(folder) / name
            if not file.is_symlink():
                os.truncate(file, 0)


def empty_trash() -> None:
    remove(TRASH)


# -- tools ----------------------------------------------------------------------------------


def ensure_hugo() -> str:
    """The path of `hugo`, installing Debian's package first when it is missing."""
    found = shutil.which("hugo")
    if found is None:
        apt_install("hugo")
        found = shutil.which("hugo")
        if found is None:
            raise SystemExit("apt-get install hugo did not put hugo on PATH")
    return found


def apt_install(package: str) -> None:
    """Install Debian's `package` (with sudo when not root), for a tool a benchmark needs."""
    print(f"installing {package}: apt-get install -y {package}", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", package], check=True, env=env)


def find_feedpress(given: str | None) -> str:
    """The feedpress command to time: `given`, else the one installed beside this Python."""
    beside = Path(sys.executable).parent / "feedpress"
    found = given or (str(beside) if beside.exists() else shutil.which("feedpress"))
    if found is None:
        raise SystemExit(f"feedpress is not installed beside {sys.executable}: run the "
                         "README's Quick start, which makes .venv (bench/run uses it), or "
                         "give --feedpress PATH")
    return found


def machine(hugo: str, feedpress: str, given: bool) -> list[str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages / 2**30:.1f} GiB"
    except (ValueError, OSError):
        memory = "unknown"
    hugo_version = subprocess.run([hugo, "version"], capture_output=True, text=True).stdout
    fp_version = subprocess.run([feedpress, "--version"], capture_output=True, text=True).stdout
    source = "given with --feedpress" if given else source_state()
    return [f"- feedpress timed: {feedpress} ({source})",
        f"- CPU: {model}, {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}); "
        f"memory {memory}",
        f"- {platform.platform()}; Python {platform.python_version()}",
        f"- {fp_version.strip()}; {hugo_version.strip()}",
    ]


def source_state() -> str:
    """Which feedpress source is measured: the commit, and whether src/ has local changes."""
    repo = BENCH.parent
    try:
        commit = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--", "src"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "this checkout is not a git one"
    dirty = f", with uncommitted changes to {len(changed.splitlines())} file(s) in src/" \
        if changed else ""
    return f"this checkout: commit {commit}{dirty}"


# -- corpora --------------------------------------------------------------------------------


def image_copies(project: Path) -> tuple[Path, Path]:
    """Two copies of the corpus beside it (made once), to time the cost of warnings:
    `feedpress-imaged`, where every post has an image with alt text (one is added where a
    post has none), and `feedpress-warned`, the same posts with each image's alt text left
    out, a warning in every post. One line of front matter apart, so the two cold builds
    differ by the warnings alone (the alt text, or the caption that stands in for it, is
    the only other difference in what they write)."""
    imaged, warned = project.parent / "feedpress-imaged", project.parent / "feedpress-warned"
    if not imaged.is_dir():
        _copy_posts(project, imaged, _with_image)
    if not warned.is_dir():
        _copy_posts(imaged, warned, _without_alt)
    return imaged, warned


def _copy_posts(source: Path, copy: Path, change: Callable[[str], str]) -> None:
    partial = copy.with_name(copy.name + ".partial")  # an interrupted copy is made again
    remove(partial)
    shutil.copytree(source, partial, ignore=shutil.ignore_patterns(".feedpress", "public"))
    for post in (partial / "posts").rglob("*.md"):
        text = post.read_text(encoding="utf-8")
        end = text.index("\n---\n", 4) + 1
        post.write_text(change(text[:end]) + text[end:], encoding="utf-8")
    partial.rename(copy)


def _with_image(front: str) -> str:
    if "\nimage:\n" in front:
        return front
    return front + "image:\n  url: /images/bench.jpg\n  alt: A picture of the story\n"


def _without_alt(front: str) -> str:
    return re.sub(r"^  alt: .*\n", "", front, flags=re.MULTILINE)


def ensure_corpus(posts: int, seed: int, regenerate: bool) -> tuple[Path, Path, dict[str, str]]:
    """bench/corpus-N/{feedpress,hugo}, generated unless an intact copy is there."""
    base = BENCH / f"corpus-{posts}"
    project, hugo = base / "feedpress", base / "hugo"
    info_path = project / "bench.json"
    wanted = {"generator_version": generate.GENERATOR_VERSION, "posts": posts, "seed": seed,
              "hugo": True}
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError):
        info = {}
    intact = all(info.get(k) == v for k, v in wanted.items()) and not (base / DIRTY).exists()
    if regenerate or not intact:
        print(f"generating {posts} posts into {base.relative_to(BENCH.parent)} ...", flush=True)
        started = time.perf_counter()
        info = generate.generate(project, posts, seed, hugo)
        remove(base / "feedpress-imaged", base / "feedpress-warned")  # made again from it
        print(f"  done in {time.perf_counter() - started:.1f}s", flush=True)
    return project, hugo, {k: str(v) for k, v in info.items()}


# -- measurements ---------------------------------------------------------------------------


class Bench:
    """The measurements of one corpus size."""

    def __init__(self, posts: int, project: Path, hugo_site: Path, info: dict[str, str],
                 feedpress: str, hugo: str, runs: int, warmup: int) -> None:
        self.posts = posts
        self.project = project
        self.hugo_site = hugo_site
        self.info = info
        self.feedpress = feedpress
        self.hugo = hugo
        self.runs = runs
        self.warmup = warmup
        self.out = BENCH / "out" / str(posts)
        self.dirty = project.parent / DIRTY

    def feedpress_cmd(self, config: str, out: Path, project: Path | None = None
                      ) -> list[str | Path]:
        return [self.feedpress, "--config", (project or self.project) / config, "--now", NOW,
                "build", "--out", out]

    def hugo_cmd(self) -> list[str | Path]:
        return [self.hugo, "--quiet", "--source", self.hugo_site,
                "--destination", self.out / "hugo", "--cacheDir", self.out / "hugo-cache",
                "--buildFuture"]

    def clean_feedpress(self, out: Path, project: Path | None = None) -> None:
        project = project or self.project
        set_aside(out, project / ".feedpress", project / "public")

    def clean_hugo(self) -> None:
        set_aside(self.out / "hugo", self.out / "hugo-cache", self.hugo_site / "resources",
                  self.hugo_site / ".hugo_build.lock")

    def cold(self) -> list[Result]:
        """Cold builds of both tools, run in turns so that any drift hits all alike."""
        fp2_out, fp3_out = self.out / "feedpress-rss-atom", self.out / "feedpress-all"
        imaged, warned = image_copies(self.project)
        imaged_out, warned_out = self.out / "feedpress-imaged", self.out / "feedpress-warned"
        jobs: list[tuple[Result, Callable[[], None], list[str | Path], Path]] = [
            (Result("cold build", self.posts, "feedpress, formats [rss, atom]"),
             lambda: self.clean_feedpress(fp2_out),
             self.feedpress_cmd(CONFIG_RSS_ATOM, fp2_out), fp2_out),
            (Result("cold build", self.posts, "Hugo, RSS + Atom"), self.clean_hugo,
             self.hugo_cmd(), self.out / "hugo"),
            (Result("cold build", self.posts, "feedpress, default formats [rss, atom, json]"),
             lambda: self.clean_feedpress(fp3_out),
             self.feedpress_cmd(CONFIG_ALL, fp3_out), fp3_out),
            (Result("cold build", self.posts, "feedpress, default formats, an image with alt "
                    "text in every post"),
             lambda: self.clean_feedpress(imaged_out, imaged),
             self.feedpress_cmd(CONFIG_ALL, imaged_out, imaged), imaged_out),
            (Result("cold build", self.posts, "feedpress, default formats, the same without "
                    "alt text: every post warned"),
             lambda: self.clean_feedpress(warned_out, warned),
             self.feedpress_cmd(CONFIG_ALL, warned_out, warned), warned_out),
        ]
        for turn in range(self.warmup + self.runs):
            for result, clean, command, out in jobs:
                if result.error:
                    continue
                clean()
                label = "warm-up" if turn < self.warmup else f"run {turn - self.warmup + 1}"
                print(f"  {self.posts} {result.tool}: {label} ...", end=" ", flush=True)
                run = measured(command, self.project)
                print(run.progress(), flush=True)
                if run.code != 0:
                    result.error = failure(run, " ".join(str(c) for c in command))
                    print(result.error, flush=True)
                elif turn >= self.warmup:
                    result.add(run)
                    result.files = count_files(out)
        fp2, hugo, fp3, fpi, fpw = (job[0] for job in jobs)
        fp2.hugo = fp3.hugo = fpi.hugo = fpw.hugo = hugo
        fpw.baseline = fpi
        self.check_feeds(fp2_out, self.out / "hugo")
        return [fp2, hugo, fp3, fpi, fpw]

    def check_feeds(self, feedpress_out: Path, hugo_out: Path) -> None:
        """Say whether both site feeds hold the same newest posts, with full content."""
        atom = "{http://www.w3.org/2005/Atom}"
        try:
            feeds = [ElementTree.parse(folder / "atom.xml").getroot() for folder in
                     (feedpress_out, hugo_out)]
        except (OSError, ElementTree.ParseError) as exc:
            print(f"  feed check skipped: {exc}")
            return
        links = [[link.get("href") for entry in feed.iter(f"{atom}entry")
                  for link in entry.findall(f"{atom}link[@rel='alternate']")] for feed in feeds]
        content = [min((len(e.findtext(f"{atom}content") or "")
                        for e in feed.iter(f"{atom}entry")), default=0) for feed in feeds]
        same = "the same" if links[0] == links[1] else "DIFFERENT"
        print(f"  site atom.xml: feedpress {len(links[0])} entries, Hugo {len(links[1])}, "
              f"{same} posts in the same order; shortest content: feedpress {content[0]} "
              f"chars, Hugo {content[1]} chars", flush=True)

    def rebuilds(self) -> list[Result]:
        """feedpress rebuilds over an existing output, with the default config."""
        out = self.out / "feedpress-rebuild"
        command = self.feedpress_cmd(CONFIG_ALL, out)
        shown = " ".join(str(c) for c in command)
        newest = self.project / self.info["newest_post"]
        added = newest.parent / ADDED_POST
        original = newest.read_bytes()

        def baseline() -> str | None:
            run = measured(command, self.project)
            return failure(run, shown) if run.code else None

        def edit() -> None:
            newest.write_bytes(original + APPENDED.encode())

        def unedit() -> None:
            newest.write_bytes(original)

        def add() -> None:
            added.write_bytes(self.added_post(original))

        def unadd() -> None:
            remove(added)

        def nothing() -> None:
            pass

        results = []
        self.clean_feedpress(out)
        error = baseline()
        for workload, change, undo in (
            ("rebuild, nothing changed", nothing, nothing),
            ("rebuild, one post's body edited", edit, unedit),
            ("rebuild, one post added", add, unadd),
        ):
            result = Result(workload, self.posts, "feedpress, default formats")
            results.append(result)
            result.error = error
            for turn in range(self.runs):
                if result.error:
                    break
                self.dirty.touch()  # a corpus left changed by an interrupted run is regenerated
                change()
                try:
                    print(f"  {self.posts} {workload}: run {turn + 1} ...", end=" ", flush=True)
                    run = measured(command, self.project)
                    print(run.progress(), flush=True)
                finally:
                    undo()
                    self.dirty.unlink()
                if run.code:
                    result.error = failure(run, shown)
                    print(result.error, flush=True)
                    break
                result.add(run)
                found = _WRITTEN.search(run.stdout)
                result.files = int(found.group(1).replace(",", "")) if found else None
                result.error = baseline()
        return results

    def added_post(self, newest: bytes) -> bytes:
        """A new post, newer than every other, sharing the tags and body of the newest one."""
        text = newest.decode("utf-8")
        _, header, body = text.split("---\n", 2)
        tags = next((line for line in header.splitlines() if line.startswith("tags:")),
                    "tags: []")
        blog = Path(self.info["newest_post"]).parent.name
        front = [
            "---",
            'title: "A post added by bench/run"',
            "date: 2029-12-31T12:00:00Z",
            f'id: "tag:{generate.DOMAIN},2029-12-31:{blog}/bench-added-post"',
            tags,
            "---",
        ]
        return ("\n".join(front) + "\n" + body).encode("utf-8")


# -- report ---------------------------------------------------------------------------------


def table(results: list[Result]) -> list[str]:
    lines = [
        "| workload | posts | tool / config | runs | median wall s | median max RSS MB "
        "| median peak MB, all processes | files written | feedpress/Hugo wall "
        "| feedpress/Hugo memory | against its baseline |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.error or not r.walls:
            last = (r.error or "no runs").splitlines()[-1].replace("|", "\\|")
            lines.append(f"| {r.workload} | {r.posts:,} | {r.tool} | 0 | failed: {last} "
                         "| | | | | | |")
            continue
        ratio_wall = ratio_memory = ""
        if r.hugo is not None and r.hugo.walls and not r.hugo.error:
            ratio_wall = f"{r.wall / r.hugo.wall:.2f}"
            ratio_memory = f"{r.tree_mb / r.hugo.tree_mb:.2f}"
        against = ""
        if r.baseline is not None and r.baseline.walls and not r.baseline.error:
            against = f"{r.wall / r.baseline.wall - 1:+.1%} wall"
        files = "" if r.files is None else f"{r.files:,}"
        tree = f"{r.tree_mb:.0f} ({r.processes})" if r.processes > 1 else f"{r.tree_mb:.0f}"
        lines.append(f"| {r.workload} | {r.posts:,} | {r.tool} | {len(r.walls)} "
                     f"| {r.wall:.2f} | {r.max_rss:.0f} | {tree} | {files} | {ratio_wall} "
                     f"| {ratio_memory} | {against} |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="comma-separated post counts (default: 1000,10000,100000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measurement (>= 3)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed runs of each cold build first (default: 1)")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default: 1)")
    parser.add_argument("--feedpress", metavar="COMMAND",
                        help="the feedpress executable to time (default: the installed one)")
    parser.add_argument("--regenerate", action="store_true",
                        help="generate the corpora again even when cached")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes must be numbers separated by commas, not {args.sizes!r}")
    if args.runs < 3:
        parser.error("--runs must be at least 3: the table reports medians")

    hugo, feedpress = ensure_hugo(), find_feedpress(args.feedpress)
    about = machine(hugo, feedpress, args.feedpress is not None)
    load_before = os.getloadavg()
    print("\n".join(about), flush=True)
    if load_before[0] > 0.5 * len(os.sched_getaffinity(0)):
        print(f"warning: load average is {load_before[0]:.2f}; other work will skew timings",
              flush=True)
    if TRASH.exists():
        print("warning: emptying the trash an interrupted run left; on ext4 without a "
              "journal the next minutes of builds are slower for it (see set_aside)",
              flush=True)
        empty_trash()
    results: list[Result] = []
    try:
        for posts in sizes:
            project, hugo_site, info = ensure_corpus(posts, args.seed, args.regenerate)
            bench = Bench(posts, project, hugo_site, info, feedpress, hugo, args.runs,
                          args.warmup)
            results += bench.cold()
            results += bench.rebuilds()
    finally:
        empty_trash()
    load_after = os.getloadavg()

    report = [
        f"feedpress benchmark: `bench/run --sizes {args.sizes} --runs {args.runs}`, "
        f"seed {args.seed}, --now {NOW}",
        "",
        *about,
        f"- load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}",
        "",
        *table(results),
    ]
    errors = [r for r in results if r.error]
    for r in errors:
        report += ["", f"**{r.workload}, {r.posts:,} posts, {r.tool}**:", "```", r.error or "",
                   "```"]
    text = "\n".join(report) + "\n"
    print("\n" + text)
    saved = BENCH / "out" / "results.md"
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(text, encoding="utf-8")
    print(f"(saved to {saved.relative_to(BENCH.parent)})")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
