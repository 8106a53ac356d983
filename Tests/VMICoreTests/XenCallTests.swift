#if canImport(CXen)
import Testing
@testable import VMICore

#if canImport(Glibc)
import Glibc
#endif

/// The one seam libxen calls pass through: errno becomes an error named after the call, EINTR
/// is retried, "absent" errnos become nil where asked.
@Suite struct XenCallTests {
    @Test func errnoBecomesATaggedError() {
        #expect(throws: XenCallError(call: "xc_vcpu_getcontext", errno: EACCES)) {
            try XenCall.check("xc_vcpu_getcontext") { errno = EACCES; return -1 }
        }
        #expect(XenCallError(call: "xc_evtchn_status", errno: EINVAL).description
            == "xc_evtchn_status failed: Invalid argument")
        // A failure that forgot errno still fails (EIO), never passes as success.
        #expect(throws: XenCallError(call: "xs_open", errno: EIO)) {
            let _: Int = try XenCall.pointer("xs_open") { nil }
        }
    }

    @Test func interruptedCallsAreRetried() throws {
        var calls = 0
        let rc = try XenCall.check("xc_domain_pause") {
            calls += 1
            if calls < 3 { errno = EINTR; return -1 }
            return 7
        }
        #expect(rc == 7 && calls == 3)
    }

    @Test func absentIsNil() throws {
        let missing: Int? = try XenCall.lookup("xs_read", absentErrno: ENOENT) { errno = ENOENT; return nil }
        #expect(missing == nil)
        #expect(throws: XenCallError(call: "xs_read", errno: EACCES)) {
            let _: Int? = try XenCall.lookup("xs_read", absentErrno: ENOENT) { errno = EACCES; return nil }
        }
    }
}
#endif
