/// The records vmi-gic-dump prints (vmi-json(5)), made from a `GICSnapshot`.
///
/// Every record starts with "type", then "target" (or "domid" for live Xen), then the fields below.
/// Register words appear as objects: {"raw":"0x...", <decoded fields>}; field names are the
/// architecture's, lowercased (Arm IHI 0069H; GICRegisters.swift lists every layout). Fields a
/// source cannot know are left out, never guessed.
///
/// gic_dist     one record: the distributor.
///   ctlr {raw, enable_grp0, enable_grp1ns, enable_grp1s, are_s, are_ns, ds, e1nwf, nassgireq, rwp};
///        with ds=true (one security state, QEMU virt's default) {raw, enable_grp0, enable_grp1, are,
///        ds, e1nwf, nassgireq, rwp}
///   typer {raw, it_lines_number, cpu_number, espi, nmi, security_extn, num_lpis, mbis, lpis, dvis,
///          id_bits, a3v, no1n, rss, espi_range}        (MMIO only: QEMU does not migrate it)
///   iidr {raw, implementer, revision, variant, product_id}                    (MMIO only)
///   model (string "GICv3"/"GICv2"), nr_spis, nr_lpis (numbers), enabled (bool)  (KVM only)
/// gic_redist   one per CPU: vcpu (number), base (hex, MMIO: the RD frame), ctlr {raw, enable_lpis,
///   ces, ir, rwp, dpg0, dpg1ns, dpg1s, uwp}, typer {raw, plpis, vlpis, dirty, direct_lpi, last, dpgs,
///   mpam, rvpeid, processor_number, common_lpi_aff, vsgi, ppi_num, affinity} (MMIO only),
///   waker {raw, processor_sleep, children_asleep}, propbaser {raw, id_bits, inner_cache,
///   shareability, address, outer_cache}, pendbaser {raw, inner_cache, shareability, address,
///   outer_cache, ptz}, iidr (MMIO only).
/// gic_cpu      one per CPU (migration streams only: system registers are not memory-mapped):
///   vcpu; icc_ctlr_el1_s, icc_ctlr_el1_ns {raw, cbpr, eoimode, pmhe, pri_bits, id_bits, seis, a3v,
///   rss, extrange}; icc_ctlr_el3; icc_pmr_el1 {raw, priority}; icc_bpr0_el1, icc_bpr1_el1_s,
///   icc_bpr1_el1_ns {raw, binary_point}; icc_igrpen0_el1, icc_igrpen1_el1_s, icc_igrpen1_el1_ns
///   {raw, enable}; icc_sre_el1 {raw, sre, dfb, dib, enable}; with the virtualization extension:
///   ich_hcr_el2 {raw, en, uie, lrenpie, npie, vgrp0eie, vgrp0die, vgrp1eie, vgrp1die, vsgieoicount,
///   tc, tall0, tall1, tsei, tdir, dvim, eoicount}, ich_vmcr_el2 {raw, veng0, veng1, vackctl, vfiqen,
///   vcbpr, veoim, vbpr1, vbpr0, vpmr}, ich_misr_el2 {raw, eoi, u, lrenp, np, vgrp0e, vgrp0d,
///   vgrp1e, vgrp1d, vsgi, derived}, ich_elrsr_el2 {raw, empty (LR numbers), derived}; "derived":true
///   marks registers computed from the list registers, ICH_HCR_EL2 and ICH_VMCR_EL2 as the
///   architecture defines them (QEMU does not migrate them). Active priorities as arrays of four
///   hex words: icc_ap0r_el1, icc_ap1r_el1_s, icc_ap1r_el1_ns, ich_ap0r_el2, ich_ap1r_el2.
/// gic_lr       one per non-empty list register (all with --all): vcpu, index (LR number), origin
///   ("hardware": read from the CPU; "saved": Xen's copy for a vCPU not running where it printed),
///   vintid, kind (sgi/ppi/spi/lpi/special/reserved), pintid (HW=1) or eoi (HW=0), state
///   (invalid/pending/active/pending_active), priority (0-255), group (0/1), hw, nmi, name (known
///   PPIs: virt_timer, phys_timer, xen_evtchn, ...), raw (hex). Xen console: domid, pcpu (the
///   physical CPU of the vCPU) and running (it was running there, `[has=T]`) too.
/// gic_irq      one per interrupt that is enabled, pending or active (every one with --all): vcpu
///   (SGIs/PPIs: the CPU they belong to), intid, kind, enabled, pending (ISPENDR view: latch, or line
///   level for level-triggered), active, group (0/1), grpmod, priority (0-255), config (edge/level),
///   route (SPIs: "aff3.aff2.aff1.aff0", or "any" when IRM=1) and irouter (hex), name. KVM adds hw,
///   hwintid, line_level, target_vcpu, mpidr (hex), source.
/// gic_inflight Xen console only: interrupts Xen has in flight for a vCPU: domid, vcpu, intid, kind,
///   lr (the LR holding it; absent when queued), queued (waiting for a free LR), name.
public struct GICReport {
    public var identity: RecordIdentity
    public var all = false
    public var vcpu: Int?

    public init(identity: RecordIdentity, all: Bool = false, vcpu: Int? = nil) {
        self.identity = identity
        self.all = all
        self.vcpu = vcpu
    }

    func wanted(_ v: Int?) -> Bool { vcpu == nil || v == nil || v == vcpu }

    public func write(_ s: GICSnapshot, to out: OutputWriter) throws {
        if let d = s.distributor { try out.record(type: "gic_dist") { dist(d, &$0) } }
        for r in s.redistributors where wanted(r.vcpu) { try out.record(type: "gic_redist") { redist(r, &$0) } }
        for c in s.cpuInterfaces where wanted(c.vcpu) { try out.record(type: "gic_cpu") { cpu(c, &$0) } }
        for e in s.listRegisters where wanted(e.vcpu) && (all || !e.lr.isEmpty) {
            try out.record(type: "gic_lr") { listRegister(e, &$0) }
        }
        for i in s.allInterrupts() where wanted(i.vcpu) && (all || i.isInteresting) {
            try out.record(type: "gic_irq") { interrupt(i, &$0) }
        }
        for f in s.inflight where wanted(f.vcpu) { try out.record(type: "gic_inflight") { inflight(f, &$0) } }
    }

    func dist(_ d: GICDistributor, _ l: inout JSONLine) {
        identity.write(to: &l)
        if let v = d.ctlr { l.register("ctlr", GICRegisters.gicdCTLR(for: UInt64(v)), raw: UInt64(v)) }
        if let v = d.typer { l.register("typer", GICRegisters.gicdTYPER, raw: UInt64(v)) }
        if let v = d.iidr { l.register("iidr", GICRegisters.gicdIIDR, raw: UInt64(v)) }
        if let v = d.model { l.field("model", v) }
        if let v = d.nrSPIs { l.field("nr_spis", v) }
        if let v = d.nrLPIs { l.field("nr_lpis", v) }
        if let v = d.enabled { l.field("enabled", v) }
    }

    func redist(_ r: GICRedistributor, _ l: inout JSONLine) {
        identity.write(to: &l)
        l.field("vcpu", r.vcpu)
        if let v = r.base { l.field("base", hex: v) }
        if let v = r.ctlr { l.register("ctlr", GICRegisters.gicrCTLR, raw: UInt64(v)) }
        if let v = r.typer { l.register("typer", GICRegisters.gicrTYPER, raw: v) }
        if let v = r.iidr { l.register("iidr", GICRegisters.gicdIIDR, raw: UInt64(v)) }
        if let v = r.waker { l.register("waker", GICRegisters.gicrWAKER, raw: UInt64(v)) }
        if let v = r.propbaser { l.register("propbaser", GICRegisters.gicrPROPBASER, raw: v) }
        if let v = r.pendbaser { l.register("pendbaser", GICRegisters.gicrPENDBASER, raw: v) }
    }

    func cpu(_ c: GICCPUInterface, _ l: inout JSONLine) {
        identity.write(to: &l)
        l.field("vcpu", c.vcpu)
        for r in c.registers {
            l.object(r.key) { o in
                o.decodedFields(r.layout.decode(r.raw), raw: r.raw)
                if r.derived { o.field("derived", true) }
            }
        }
        for (k, words) in c.activePriorities { l.field(k, hexArray: words) }
    }

    func listRegister(_ e: GICListRegisterEntry, _ l: inout JSONLine) {
        identity.write(to: &l)
        if let d = e.domid { l.field("domid", d) }
        l.field("vcpu", e.vcpu)
        if let p = e.pcpu { l.field("pcpu", p) }
        if let r = e.running { l.field("running", r) }
        l.field("index", e.index)
        l.field("origin", e.origin.rawValue)
        for (k, v) in e.lr.fields { l.field(k, v) }
        l.field("raw", hex: e.lr.raw)
    }

    func interrupt(_ i: GICInterrupt, _ l: inout JSONLine) {
        identity.write(to: &l)
        if let v = i.vcpu { l.field("vcpu", v) }
        l.field("intid", Int(i.intid))
        l.field("kind", INTID.kind(of: i.intid).rawValue)
        l.field("enabled", i.enabled)
        l.field("pending", i.pending)
        l.field("active", i.active)
        if let g = i.group { l.field("group", g) }
        if let g = i.grpmod { l.field("grpmod", g) }
        l.field("priority", i.priority)
        if let c = i.config { l.field("config", c.rawValue) }
        if let r = i.route {
            l.field("route", Self.route(r))
            l.field("irouter", hex: r)
        }
        if let v = i.hw { l.field("hw", v) }
        if let v = i.hwintid { l.field("hwintid", v) }
        if let v = i.lineLevel { l.field("line_level", v) }
        if let v = i.targetVCPU { l.field("target_vcpu", v) }
        if let v = i.mpidr { l.field("mpidr", hex: v) }
        if let v = i.source { l.field("source", v) }
        if let n = INTID.name(of: i.intid), i.intid < 32 { l.field("name", n) }
    }

    func inflight(_ f: XenInflightIRQ, _ l: inout JSONLine) {
        identity.write(to: &l)
        if let d = f.domid { l.field("domid", d) }
        l.field("vcpu", f.vcpu)
        l.field("intid", Int(f.intid))
        l.field("kind", INTID.kind(of: f.intid).rawValue)
        if let lr = f.lr { l.field("lr", lr) }
        l.field("queued", f.queued)
        if let n = INTID.name(of: f.intid) { l.field("name", n) }
    }

    /// GICD_IROUTER as "aff3.aff2.aff1.aff0", or "any" with Interrupt_Routing_Mode set.
    public static func route(_ r: UInt64) -> String {
        if r & (1 << 31) != 0 { return "any" }
        return "\((r >> 32) & 0xff).\((r >> 16) & 0xff).\((r >> 8) & 0xff).\(r & 0xff)"
    }
}
