#if canImport(CXen)
func openXenTarget(_ domain: TargetAddress.XenDomainRef, address: TargetAddress, options: AttachOptions) throws
    -> TargetDriver
{
    try XenAttach.open(domain, address: address, options: options)
}
#else
func openXenTarget(_ domain: TargetAddress.XenDomainRef, address: TargetAddress, options: AttachOptions) throws
    -> TargetDriver
{
    throw VMIError("\(address): built without Xen support (install libxen-dev and rebuild)")
}
#endif
