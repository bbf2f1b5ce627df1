# Failing tests of one package, from go tool test2json's events (jq -rs):
# one line per failing top-level test, then for each of its failing leaf
# subtests (or for itself, without any) the first lines it logged, so that a
# CI log shows why without the whole -test.v output.
def logged($t; $n):
  [ .[] | select(.Action == "output" and .Test == $t) | .Output | rtrimstr("\n")
    | select(test("^\\s*(=== (RUN|PAUSE|CONT|NAME)|--- (FAIL|PASS|SKIP))") | not)
    | sub("^\\s+"; "") ][:$n];

. as $ev
| [ $ev[] | select(.Action == "fail" and .Test != null) | .Test ] as $failed
| $failed[] | select(contains("/") | not) as $top
| [ $failed[] | select(startswith($top + "/")) ] as $subs
| [ $subs[] as $s | select(any($subs[]; startswith($s + "/")) | not) | $s ] as $leaves
| if ($leaves | length) == 0 then
    "--- FAIL: \($top)",
    ($ev | logged($top; 15)[] | "    " + .)
  else
    "--- FAIL: \($top) (\($leaves | length) subtests)",
    ($leaves[:12][] as $l
      | ($ev | logged($l; 3)) as $lines
      | "    \($l | ltrimstr($top + "/")): \($lines[0] // "(no output)")",
        ($lines[1:][] | "        " + .)),
    (if ($leaves | length) > 12 then "    ... and \(($leaves | length) - 12) more" else empty end)
  end
