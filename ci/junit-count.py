#!/usr/bin/python3
"""Print "PASSED FAILED" from a JUnit XML report (pytest --junitxml)."""
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tests = failed = skipped = 0
for s in suites:
    tests += int(s.get("tests", 0))
    failed += int(s.get("failures", 0)) + int(s.get("errors", 0))
    skipped += int(s.get("skipped", 0))
if skipped:
    print(f"({skipped} skipped, see the report)", file=sys.stderr)
print(tests - failed - skipped, failed)
