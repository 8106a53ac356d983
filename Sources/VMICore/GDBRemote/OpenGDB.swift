/// `gdb:HOST:PORT`, `gdb:unix:PATH`: connects, reads the stub's features and registers.
func openGDBTarget(_ endpoint: TargetAddress.GDBEndpoint, address: TargetAddress, options: AttachOptions) throws
    -> TargetDriver
{
    try GDBTarget(endpoint, address: address, timeout: options.timeoutSeconds)
}
