"""The docs say what the code does: every setting documented, every link alive, the
README short."""

import ast
import importlib
import re

from ipc_config import Settings
from steem_testing.paths import ROOT

DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
MEMBER_SOURCES = [
    path for folder in ("libs", "tools", "workers") for path in (ROOT / folder).glob("*/src/*/*.py")
]


def settings_classes() -> list[type[Settings]]:
    """Every settings class of every member (imported from where it is defined)."""
    found = []
    for path in MEMBER_SOURCES:
        tree = ast.parse(path.read_text())
        names = [
            node.name
            for node in tree.body
            if isinstance(node, ast.ClassDef)
            and any(getattr(base, "id", "").endswith("Settings") for base in node.bases)
        ]
        if names:
            module = importlib.import_module(f"{path.parent.name}.{path.stem}")
            found += [getattr(module, name) for name in names]
    return found


def settings_variables() -> set[str]:
    return {
        str(field.validation_alias)
        for cls in settings_classes()
        for field in cls.model_fields.values()
    }


def other_variables() -> set[str]:
    """The restart loop's and the offline Procfile's, which are not settings classes."""
    loop = (ROOT / "tools/restart-loop/src/restart_loop/cli.py").read_text()
    procfile = (ROOT / "Procfile.replay").read_text()
    return set(re.findall(r'"(RESTART_[A-Z_]+)"', loop)) | set(
        re.findall(r"\$\{(REPLAY_[A-Z_]+):-", procfile)
    )


def documented_variables() -> set[str]:
    rows = [line for line in CONFIGURATION.read_text().splitlines() if line.startswith("| `")]
    return {re.match(r"\| `([A-Z_]+)`", row).group(1) for row in rows}


def test_every_setting_is_documented_and_every_documented_one_exists():
    real = settings_variables() | other_variables()
    documented = documented_variables()
    assert len(settings_classes()) >= 8, "the settings classes were not found"
    assert real - documented == set(), "settings missing from docs/configuration.md"
    assert documented - real == set(), "docs/configuration.md documents settings that do not exist"


def test_the_env_example_names_only_real_settings():
    example = (ROOT / ".env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z_]+)=", example, flags=re.MULTILINE))
    assert len(named) >= 20, "the variables of .env.example were not found"
    assert named - (settings_variables() | other_variables()) == set()


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


def test_every_relative_link_of_the_docs_leads_somewhere():
    broken = []
    for page in [ROOT / "README.md", *DOCS.glob("*.md"), *ROOT.glob("*/*/README.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


def test_ci_runs_the_test_command_the_readme_shows():
    ci = (ROOT / ".ci/run").read_text()
    assert "uv sync --locked" in ci
    assert ci.strip().splitlines()[-1] == "uv run pytest"
    assert "uv run pytest\n" in (ROOT / "README.md").read_text()
