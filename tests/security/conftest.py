import hostile_report


def pytest_terminal_summary(terminalreporter):
    if hostile_report.tallies:
        terminalreporter.write_sep("-", "hostile input report")
        terminalreporter.write_line(hostile_report.table())
        terminalreporter.write_line(f"written to {hostile_report.write()}")
