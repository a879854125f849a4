"""The insights function's package: run reports → HTML pages (pandas + matplotlib layers)."""
