"""What every app of JUMO shares, below them all: French formatting, geodesy, the admin bases,
uploads, safe export cells, request security. It imports no app of JUMO."""
