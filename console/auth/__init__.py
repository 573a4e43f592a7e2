"""Sign-in: argon2 password hashes, lockout, browser sessions with CSRF, JWT access tokens."""
