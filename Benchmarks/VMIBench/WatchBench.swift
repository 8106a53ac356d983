#if canImport(CXen)
import CXen
import VMICore

#if canImport(Glibc)
import Glibc
#endif

/// vmi-watch's own cost per event: a request in a vm_event ring slot (the real 400-byte
/// `vm_event_request_t` layout, from the C headers) -> taken from the ring -> decoded into an
/// event -> answered in the ring -> one JSON line written with write(2) (to /dev/null).
/// A ring in ordinary memory stands in for Xen's page; the producer side is the shim's
/// `cxen_vm_event_test_produce`, which does what Xen's vm_event_put_request does.
/// Target (DESIGN.md): at most 1 us per event.
func benchWatchPerEvent() {
    let page = UnsafeMutableRawPointer.allocate(byteCount: Int(cxen_page_size), alignment: Int(cxen_page_size))
    defer { page.deallocate() }
    let ring = UnsafeMutablePointer<vm_event_back_ring_t>.allocate(capacity: 1)
    defer { ring.deallocate() }
    cxen_vm_event_ring_init(ring, page)

    // A CPUID event as Xen raises it (hvm_monitor_cpuid): results already in rax..rdx.
    var cpuid = vm_event_request_t()
    cpuid.version = UInt32(VM_EVENT_INTERFACE_VERSION)
    cpuid.reason = UInt32(VM_EVENT_REASON_CPUID)
    cpuid.flags = UInt32(VM_EVENT_FLAG_VCPU_PAUSED)
    cpuid.u.cpuid.leaf = 0x1337_1337
    cpuid.u.cpuid.insn_length = 2
    cpuid.data.regs.x86.rip = 0x40_1a2b
    cpuid.data.regs.x86.rax = 0x6874_7541
    cpuid.data.regs.x86.cr3 = 0x1f4_5000
    // A CR3 write (async, not paused).
    var cr3 = vm_event_request_t()
    cr3.version = UInt32(VM_EVENT_INTERFACE_VERSION)
    cr3.reason = UInt32(VM_EVENT_REASON_WRITE_CTRLREG)
    cr3.u.write_ctrlreg.index = UInt32(VM_EVENT_X86_CR3)
    cr3.u.write_ctrlreg.old_value = 0x1f4_5000
    cr3.u.write_ctrlreg.new_value = 0x2a8_1000
    cr3.data.regs.x86.rip = 0xffff_ffff_8100_4d2e

    let devNull = open("/dev/null", O_WRONLY)
    defer { close(devNull) }
    let identity = RecordIdentity.domid(5)

    /// CPU time of this thread: the tool's own cost, not the time it waited for a core on a
    /// busy machine (the lab host runs several QEMUs at once).
    func cpuSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Xen fills the ring (8 slots: as many requests as it can hold, the busy case), then the
    /// tool takes them all: only the tool's side is timed.
    func run(_ n: Int, _ out: OutputWriter) -> (wall: Double, cpu: Double) {
        var wall = 0.0, cpu = 0.0
        var req = vm_event_request_t()
        let size = Int(cxen_vm_event_ring_size(ring))
        for round in 0..<(n / size) {
            for i in 0..<size {
                var slot = (round + i) & 1 == 0 ? cpuid : cr3
                _ = cxen_vm_event_test_produce(page, &slot)
            }
            let start = monotonicSeconds()
            let cpuStart = cpuSeconds()
            // What EventWatcher.run does per request.
            while cxen_vm_event_take_request(ring, &req) != 0 {
                let backlog = Int(cxen_vm_event_unconsumed(ring))
                withUnsafePointer(to: &req) { p in
                    guard let kind = VMEventRequest.kind(of: p) else { return }
                    var rsp = kind == .cpuid ? VMEventResponse.completeCPUID(p.pointee) : VMEventResponse.resume(p.pointee)
                    cxen_vm_event_put_response(ring, &rsp)
                    let event = VMEventRequest.event(p, kind: kind, backlog: backlog)
                    try? out.record(type: "event") { event.write(identity: identity, to: &$0) }
                }
            }
            cpu += cpuSeconds() - cpuStart
            wall += monotonicSeconds() - start
        }
        return (wall, cpu)
    }
    // "watch": one blocking write(2) a record (stdout a file or a terminal); "watch-pipe": what
    // vmi-watch does on a pipe, never waiting for the reader (a poll(2) before each write).
    let configs: [(String, OutputWriter)] = [
        ("watch", OutputWriter(fd: devNull, mode: .perRecord)),
        ("watch-pipe", OutputWriter(fd: devNull, mode: .perRecord,
            backpressure: .drop(limit: 1 << 20, identity: identity, stopFD: -1))),
    ]
    for (name, out) in configs {
        _ = run(20_000, out)  // warm-up
        let n = 1_000_000  // a multiple of the ring size
        let (wall, cpu) = run(n, out)
        let perEvent = cpu / Double(n) * 1e9
        report(name, [
            ("events", "\(n)"), ("ns_per_event_cpu", "\(Int(perEvent.rounded()))"),
            ("ns_per_event_wall", "\(Int((wall / Double(n) * 1e9).rounded()))"), ("target_ns", "1000"),
            ("ok", perEvent <= 1000 ? "yes" : "no"),
        ])
    }
}
#else
func benchWatchPerEvent() {
    print("watch: built without Xen headers (libxen-dev): skipped")
}
#endif
