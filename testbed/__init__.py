"""What the tests and the benchmarks run rabfang against, without pytest: the fake LINE and
Telegram platform APIs (real HTTP on 127.0.0.1, platform-shaped JSON, the platforms' limits
enforced), a throwaway PostgreSQL cluster, and simulated participants."""
