#if canImport(CXen)
import CXen
#if canImport(Glibc)
import Glibc
#endif

/// A domain's vm_event monitor ring, held by this process: the shared page Xen writes requests
/// into (`xc_monitor_enable`) and the event channel that signals them (bound with
/// `xenevtchn_bind_interdomain`). Xen allows one monitor ring per domain.
///
/// `close()` disables the monitor, unmaps the page and closes the channel; the order that keeps
/// the guest alive (pause, events off, drain and answer, disable, unpause) is the caller's
/// (`MonitorSession.teardown`), because only the caller knows how to answer what is left.
final class MonitorRing {
    let control: XenControl
    let domid: UInt32
    private var page: UnsafeMutableRawPointer?
    private let ring: UnsafeMutablePointer<vm_event_back_ring_t>
    private var evtchn: OpaquePointer?
    private var localPort: evtchn_port_t = 0
    /// Readable when Xen signalled new requests.
    private(set) var fd: Int32 = -1
    /// Requests taken, for rates and tests.
    private(set) var taken = 0
    /// The most requests seen waiting at once (`backlog` high-water mark).
    private(set) var maxBacklog = 0
    /// `force` found a stale ring and took it over.
    private(set) var reclaimed = false

    /// Enables the monitor of `domid` and binds its channel. `force` first disables a ring a
    /// killed listener left enabled (EBUSY otherwise, with a message that says so).
    init(control: XenControl, domid: UInt32, label: String, force: Bool) throws {
        self.control = control
        self.domid = domid
        ring = .allocate(capacity: 1)
        ring.initialize(to: vm_event_back_ring_t())
        do {
            try enable(label: label, force: force)
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
        ring.deallocate()
    }

    private func enable(label: String, force: Bool) throws {
        var remotePort: UInt32 = 0
        var mapped = xc_monitor_enable(control.handle, domid, &remotePort)
        if mapped == nil, errno == EBUSY, force {
            // A stale ring: disabling it releases it (and any vCPU it left blocked for a slot).
            // EBUSY here: a vCPU sleeps waiting for a slot of the old ring, which nobody can
            // answer any more (we register every event sync, so our own rings never get there).
            do {
                try MonitorRing.disable(control: control, domid: domid)
            } catch let e as XenCallError where e.errno == EBUSY {
                throw VMIError("cannot reclaim \(label)'s vm_event ring: a vCPU waits for a slot in it (its owner "
                    + "registered asynchronous events and died); only destroying the domain frees it")
            }
            mapped = xc_monitor_enable(control.handle, domid, &remotePort)
            reclaimed = mapped != nil
        }
        guard let mapped else {
            let err = errno
            switch err {
            case EBUSY:
                throw VMIError(
                    "another monitor holds \(label)'s vm_event ring (another vmi-watch, xen-access, LibVMI?); "
                        + "if it was killed, rerun with --force")
            case EINVAL, EOPNOTSUPP, ENODEV:
                throw VMIError("\(label) has no vm_event monitor: \(strerrorString(err)) (PV guests have none; use HVM or PVH)")
            default:
                throw XenCallError(call: "xc_monitor_enable", errno: err == 0 ? EIO : err)
            }
        }
        page = mapped
        cxen_vm_event_ring_init(ring, mapped)
        let handle = try XenCall.pointer("xenevtchn_open") { xenevtchn_open(nil, 0) }
        evtchn = handle
        let port = try XenCall.check("xenevtchn_bind_interdomain") {
            xenevtchn_bind_interdomain(handle, domid, remotePort)
        }
        localPort = evtchn_port_t(port)
        fd = try XenCall.check("xenevtchn_fd") { xenevtchn_fd(handle) }
    }

    /// Slots in the ring (8 for one 4 KiB page).
    var size: Int { Int(cxen_vm_event_ring_size(ring)) }

    /// Requests waiting that were not taken yet.
    var backlog: Int { Int(cxen_vm_event_unconsumed(ring)) }

    /// The next request, copied out of the ring, or nil.
    func take() -> vm_event_request_t? {
        let waiting = backlog
        if waiting > maxBacklog { maxBacklog = waiting }
        var req = vm_event_request_t()
        guard cxen_vm_event_take_request(ring, &req) != 0 else { return nil }
        taken += 1
        return req
    }

    /// Puts an answer in the ring; Xen reads it after `notify()`.
    func put(_ rsp: vm_event_response_t) {
        var r = rsp
        cxen_vm_event_put_response(ring, &r)
    }

    /// Tells Xen responses are waiting (EVTCHNOP_send on our end of the channel).
    func notify() throws {
        guard let evtchn else { return }
        try XenCall.check("xenevtchn_notify") { xenevtchn_notify(evtchn, localPort) }
    }

    enum Wake: Equatable {
        /// Xen signalled (or requests are already waiting).
        case requests
        /// `stopFD` became readable.
        case stop
        /// `deadline` passed, or `slice` elapsed.
        case timeout
    }

    /// Waits for requests, the stop descriptor, or the deadline. `slice` bounds one wait so a
    /// caller can do periodic work (livelock checks) without a timer.
    func wait(deadline: Double?, stopFD: Int32, slice: Double? = nil) throws -> Wake {
        if backlog > 0 { return .requests }
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0)]
        while true {
            var timeout: Int32 = -1
            let now = monotonicSeconds()
            var limit = slice.map { now + $0 }
            if let d = deadline { limit = min(limit ?? d, d) }
            if let l = limit {
                if l <= now { return .timeout }
                timeout = Int32(min((l - now) * 1000 + 1, 1_000_000))
            }
            let n = poll(&fds, nfds_t(stopFD >= 0 ? 2 : 1), timeout)
            if n < 0 {
                if errno == EINTR { continue }
                throw XenCallError(call: "poll", errno: errno)
            }
            if stopFD >= 0, fds[1].revents != 0 { return .stop }
            if fds[0].revents != 0 {
                try acknowledge()
                return .requests
            }
            if n == 0 { return backlog > 0 ? .requests : .timeout }
        }
    }

    /// Reads the pending port from the channel and unmasks it, so the next signal wakes us.
    private func acknowledge() throws {
        guard let evtchn else { return }
        let port = try XenCall.check("xenevtchn_pending") { xenevtchn_pending(evtchn) }
        try XenCall.check("xenevtchn_unmask") { xenevtchn_unmask(evtchn, evtchn_port_t(port)) }
    }

    /// `xc_monitor_disable`, retried while Xen says EAGAIN: a vCPU still has a register write
    /// of ours to apply (VM_EVENT_FLAG_SET_REGISTERS), which happens when it next runs, so the
    /// domain must be running for this to succeed. Gives up after `limit` seconds.
    static func disable(control: XenControl, domid: UInt32, limit: Double = 5) throws {
        let end = monotonicSeconds() + limit
        while true {
            do {
                try XenCall.check("xc_monitor_disable") { xc_monitor_disable(control.handle, domid) }
                return
            } catch let e as XenCallError where e.errno == EAGAIN && monotonicSeconds() < end {
                usleep(2000)
            }
        }
    }

    /// Disables the monitor (the domain must be running: see `disable`), unmaps the ring page
    /// and closes the channel. Idempotent; errors are ignored (the domain may be gone).
    func close() {
        if page != nil { try? MonitorRing.disable(control: control, domid: domid) }
        if let evtchn {
            if localPort != 0 { _ = xenevtchn_unbind(evtchn, localPort) }
            _ = xenevtchn_close(evtchn)
            self.evtchn = nil
            localPort = 0
            fd = -1
        }
        if let p = page {
            munmap(p, Int(cxen_page_size))
            page = nil
        }
    }
}
#endif
