/// `kvm-vgic:FILE` (or `-`): the text is read with the console loader's bound (64 MiB).
func openKVMVGICTarget(path: String, address: TargetAddress) throws -> TargetDriver {
    let text = try ConsoleTarget.load(path: path, address: address).text
    return KVMVGICTarget(address: address, text: text)
}
