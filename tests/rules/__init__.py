"""Table tests for the pure rules in `mailroom/rules/`."""
