#!/usr/bin/env python3
"""Scores a parse_address binary on the address table: feeds it every row (without the expected
answer) and counts the rows it gets exactly right, all eight fields or the error code; the rows
of issue 13 (those with a `source`) are also counted on their own.

    cargo build --release --example parse_address
    python3 tools/score_address_table.py target/release/examples/parse_address \
        tests/fixtures/address/blocks.jsonl
"""
import json,subprocess,sys
binary, path = sys.argv[1], sys.argv[2]
cases=[json.loads(l) for l in open(path) if l.strip()]
inp="\n".join(json.dumps({k:v for k,v in c.items() if k not in('expect','expect_error')},ensure_ascii=False) for c in cases)
out=subprocess.run([binary],input=inp.encode(),capture_output=True).stdout.decode().splitlines()
F=["name","company","street1","street2","city","state","zip","country"]
bad=[]
for c,o in zip(cases,out):
    g=json.loads(o)
    ok = all(c['expect'][f]==g.get(f) for f in F) if 'expect' in c else g.get('error',{}).get('code')==c['expect_error']
    if not ok: bad.append(c['id'])
new=[c for c in cases if 'source' in c]
newbad=[i for i in bad if i in {c['id'] for c in new}]
print(f"{binary}: {len(cases)-len(bad)} of {len(cases)} right; issue-13 rows {len(new)-len(newbad)} of {len(new)}")
