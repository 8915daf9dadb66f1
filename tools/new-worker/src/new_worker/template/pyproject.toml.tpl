[project]
name = "{name}"
version = "0.1.0"
description = "{name}: a steem-bot worker"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["ipc-config", "steem-worker"]

[project.scripts]
{name} = "{package}.cli:main"

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.uv.sources]
ipc-config = {{ workspace = true }}
steem-worker = {{ workspace = true }}
