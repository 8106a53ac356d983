/// `vmi-evtchn core:DUMP`: an `xl dump-core` file keeps the domain's shared_info page, which holds
/// the 2-level pending and mask bitmaps (not port states: those live in the hypervisor).
extension XenDumpCore: SharedInfoSource {
    public func sharedInfoPage() throws -> [UInt8] {
        guard let page = sharedInfo else {
            throw VMIError("\(address): the dump has no .xen_shared_info section")
        }
        return page
    }
}
