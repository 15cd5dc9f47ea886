#!/usr/bin/python3
"""Print "PASSED FAILED SKIPPED" from a JUnit XML report (pytest
--junitxml), and each skipped test with its reason on stderr, so a skip
is never silent."""
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tests = failed = skipped = 0
for s in suites:
    tests += int(s.get("tests", 0))
    failed += int(s.get("failures", 0)) + int(s.get("errors", 0))
    skipped += int(s.get("skipped", 0))
    for case in s.iter("testcase"):
        skip = case.find("skipped")
        if skip is not None:
            print(f"SKIPPED: {case.get('classname')}.{case.get('name')}: "
                  f"{skip.get('message', '')}", file=sys.stderr)
print(tests - failed - skipped, failed, skipped)
