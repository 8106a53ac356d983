#!/usr/bin/env python3
# Cross-check of vmi-gic-dump against QEMU's own stream decoder (see README.md next to this file):
#   compare-analyze-migration.py ANALYZE.json OURS.ndjson
# ANALYZE.json: `analyze-migration.py -f STREAM` (its JSON dump of every section);
# OURS.ndjson:  `vmi-gic-dump vmstate:STREAM --all`.
# Every arm_gicv3 field QEMU's decoder shows is compared with what vmi-gic-dump printed for it:
# GICD_CTLR, the SPI bitmaps/priorities/routes (pending folded with line level as GICD_ISPENDR
# reads), per CPU the redistributor words, SGI/PPI state, ICC_* words, ICH_HCR/VMCR/APR and every
# list register. Prints the mismatches and a count; exit status 1 when any differ.
import json, sys
ana = json.load(open(sys.argv[1]))
ours = [json.loads(l) for l in open(sys.argv[2])]
g = next(v for k, v in ana.items() if k.startswith("arm_gicv3 ("))
def num(x):
    if isinstance(x, bool): return int(x)
    return int(x.split()[0], 16) if isinstance(x, str) else x
def arr(x): return [num(v) for v in (x if isinstance(x, list) else [x])]
checked = bad = 0
def check(what, a, b):
    global checked, bad
    checked += 1
    if a != b:
        bad += 1
        print("MISMATCH", what, hex(a) if isinstance(a,int) else a, hex(b) if isinstance(b,int) else b)
dist = next(r for r in ours if r["type"] == "gic_dist")
check("gicd_ctlr", num(g["gicd_ctlr"]), int(dist["ctlr"]["raw"], 16))
bm = {k: arr(g[k]) for k in ["group","grpmod","enabled","pending","active","level","edge_trigger"]}
prio = arr(g["gicd_ipriority"]); irouter = arr(g["gicd_irouter"])
bit = lambda k, n: (bm[k][n // 32] >> (n % 32)) & 1
irqs = {(r.get("vcpu"), r["intid"]): r for r in ours if r["type"] == "gic_irq"}
for n in range(32, 1020):
    r = irqs[(None, n)]
    check(f"spi{n}.enabled", bit("enabled", n), int(r["enabled"]))
    check(f"spi{n}.active", bit("active", n), int(r["active"]))
    check(f"spi{n}.pending", bit("pending", n) | (bit("level", n) & (1 - bit("edge_trigger", n))), int(r["pending"]))
    check(f"spi{n}.group", bit("group", n), r["group"])
    check(f"spi{n}.grpmod", bit("grpmod", n), int(r["grpmod"]))
    check(f"spi{n}.config", bit("edge_trigger", n), int(r["config"] == "edge"))
    check(f"spi{n}.priority", prio[n], r["priority"])
    check(f"spi{n}.irouter", irouter[n], int(r["irouter"], 16))
cpus = g["cpu"] if isinstance(g["cpu"], list) else [g["cpu"]]
for i, c in enumerate(cpus):
    red = next(r for r in ours if r["type"] == "gic_redist" and r["vcpu"] == i)
    cpu = next(r for r in ours if r["type"] == "gic_cpu" and r["vcpu"] == i)
    for f, k in [("gicr_ctlr","ctlr"),("gicr_waker","waker"),("gicr_propbaser","propbaser"),("gicr_pendbaser","pendbaser")]:
        check(f"cpu{i}.{f}", num(c[f]), int(red[k]["raw"], 16))
    bits = {k: num(c[k]) for k in ["gicr_igroupr0","gicr_ienabler0","gicr_ipendr0","gicr_iactiver0","edge_trigger","level","gicr_igrpmodr0"]}
    pr = arr(c["gicr_ipriorityr"])
    for n in range(32):
        r = irqs[(i, n)]; b = lambda k: (bits[k] >> n) & 1
        check(f"cpu{i}.irq{n}.enabled", b("gicr_ienabler0"), int(r["enabled"]))
        check(f"cpu{i}.irq{n}.pending", b("gicr_ipendr0") | (b("level") & (1 - b("edge_trigger"))), int(r["pending"]))
        check(f"cpu{i}.irq{n}.active", b("gicr_iactiver0"), int(r["active"]))
        check(f"cpu{i}.irq{n}.group", b("gicr_igroupr0"), r["group"])
        check(f"cpu{i}.irq{n}.priority", pr[n], r["priority"])
    ctl = arr(c["icc_ctlr_el1"]); bpr = arr(c["icc_bpr"]); ig = arr(c["icc_igrpen"]); apr = arr(c["icc_apr"])
    for k, v in [("icc_ctlr_el1_s", ctl[0]), ("icc_ctlr_el1_ns", ctl[1]), ("icc_pmr_el1", num(c["icc_pmr_el1"])),
                 ("icc_bpr0_el1", bpr[0]), ("icc_bpr1_el1_s", bpr[1]), ("icc_bpr1_el1_ns", bpr[2]),
                 ("icc_igrpen0_el1", ig[0]), ("icc_igrpen1_el1_s", ig[1]), ("icc_igrpen1_el1_ns", ig[2]),
                 ("icc_ctlr_el3", num(c["icc_ctlr_el3"]))]:
        check(f"cpu{i}.{k}", v, int(cpu[k]["raw"], 16))
    check(f"cpu{i}.icc_apr", apr, [int(x, 16) for x in cpu["icc_ap0r_el1"] + cpu["icc_ap1r_el1_s"] + cpu["icc_ap1r_el1_ns"]])
    if "arm_gicv3_cpu/sre_el1" in c:
        check(f"cpu{i}.icc_sre_el1", num(c["arm_gicv3_cpu/sre_el1"]["icc_sre_el1"]), int(cpu["icc_sre_el1"]["raw"], 16))
    v = c.get("arm_gicv3_cpu/virt")
    if v:
        check(f"cpu{i}.ich_hcr", num(v["ich_hcr_el2"]), int(cpu["ich_hcr_el2"]["raw"], 16))
        check(f"cpu{i}.ich_vmcr", num(v["ich_vmcr_el2"]), int(cpu["ich_vmcr_el2"]["raw"], 16))
        iapr = arr(v["ich_apr"])
        check(f"cpu{i}.ich_apr", iapr[0:4] + iapr[8:12], [int(x, 16) for x in cpu["ich_ap0r_el2"] + cpu["ich_ap1r_el2"]])
        lrs = {r["index"]: int(r["raw"], 16) for r in ours if r["type"] == "gic_lr" and r["vcpu"] == i}
        for j, w in enumerate(arr(v["ich_lr_el2"])):
            check(f"cpu{i}.lr{j}", w, lrs[j])
print(f"{checked} values compared, {bad} mismatches")
sys.exit(1 if bad else 0)
