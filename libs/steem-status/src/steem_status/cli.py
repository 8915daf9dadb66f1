def main() -> None:
    raise SystemExit("steem-status: not ready yet")
