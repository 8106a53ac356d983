import ArgumentParser
import VMICLI
import VMICore

struct GicDumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmi-gic-dump",
        abstract: "Dump GICv3 and virtual GIC state: distributor, redistributors, CPU interfaces, list registers.",
        discussion: """
            Reads a QEMU migration stream (vmstate:FILE), KVM's debugfs vgic-state text (kvm-vgic:FILE), \
            Xen on Arm 'xl debug-keys q' console output (console:FILE or console:-), or the distributor \
            and redistributor MMIO of an AArch64 guest through a gdbstub (gdb:HOST:PORT). Prints gic_dist, \
            gic_redist, gic_cpu, gic_lr and gic_irq JSON lines (vmi-json(5)); only interrupts that are \
            enabled, pending or active and only non-empty list registers unless --all.

            Examples:
              vmi-gic-dump vmstate:guest.mig | jq 'select(.type=="gic_lr")'
              vmi-gic-dump console:dmesg.txt --text
              vmi-gic-dump gdb:127.0.0.1:1234 --gicd-base 0x8000000
              vmi-gic-dump --decode ich_lr=0xa0a000000000001b
            """,
        version: VMIVersion.string)

    @Argument(
        help: ArgumentHelp(
            "vmstate:FILE, kvm-vgic:FILE, console:FILE|-, or gdb:HOST:PORT (AArch64 guest). Not needed with --decode.",
            valueName: "target"))
    var target: String?

    @OptionGroup var output: OutputOptions

    @Flag(help: "Every interrupt and list register, not only the live ones.")
    var all = false

    @Option(help: "Only this vCPU's redistributor, CPU interface, list registers and private interrupts.")
    var vcpu: Int?

    @Option(
        name: .customLong("decode"), parsing: .singleValue,
        help: ArgumentHelp(
            "Decode a raw register word: NAME=WORD (ich_lr, ich_hcr, ich_vmcr, ich_vtr, ich_misr, "
                + "ich_elrsr, icc_ctlr, icc_sre, gicd_ctlr, gicd_typer, gicr_typer, ...). Repeatable.",
            valueName: "name=word"))
    var decode: [String] = []

    @Option(
        help: ArgumentHelp(
            "gdb: guest-physical base of the distributor (default 0x8000000, QEMU virt).",
            valueName: "address"))
    var gicdBase: String?

    @Option(
        help: ArgumentHelp(
            "gdb: guest-physical base of the first redistributor (default 0x80a0000, QEMU virt).",
            valueName: "address"))
    var gicrBase: String?

    @Option(name: .long, help: ArgumentHelp("gdb: seconds to wait for each reply of the stub.", valueName: "seconds"))
    var stubTimeout: Double = 10

    func validate() throws {
        if let v = vcpu, v < 0 { throw ValidationError("--vcpu must be >= 0") }
        for d in decode {
            let parts = d.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parseUInt64(parts[1]) != nil else {
                throw ValidationError("--decode expects NAME=WORD (e.g. ich_lr=0xa0a000000000001b), got '\(d)'")
            }
        }
        for (name, v) in [("--gicd-base", gicdBase), ("--gicr-base", gicrBase)] {
            if let v, parseUInt64(v) == nil { throw ValidationError("\(name) expects an address, got '\(v)'") }
        }
        if decode.isEmpty && target == nil { throw ValidationError("missing TARGET (or --decode NAME=WORD)") }
        if !decode.isEmpty && target != nil { throw ValidationError("--decode takes no TARGET") }
        if let t = target {
            do { _ = try TargetAddress(parsing: t) } catch let e as TargetError { throw ValidationError(e.description) }
        }
        if !(stubTimeout > 0) { throw ValidationError("--stub-timeout needs a number of seconds > 0") }
    }

    func run() throws {
        let out = OutputWriter(mode: .buffered)
        defer { try? out.flush() }
        if !decode.isEmpty {
            for d in decode {
                let parts = d.split(separator: "=", maxSplits: 1)
                try out.write(try GICWordDecoder.record(name: String(parts[0]), raw: parseUInt64(parts[1])!))
            }
            return try out.flush()
        }
        let address = try TargetAddress(parsing: target!)
        let driver = try openTarget(address, options: AttachOptions(timeoutSeconds: stubTimeout))
        defer { driver.close() }
        let snapshot: GICSnapshot
        if let reader = driver as? GICStateReader {
            snapshot = try reader.gicSnapshot()
        } else if let memory = driver as? PhysicalMemory {
            snapshot = try GICMMIOReader(
                memory: memory, distributorBase: gicdBase.flatMap(parseUInt64),
                redistributorBase: gicrBase.flatMap(parseUInt64)
            ).snapshot()
        } else {
            throw VMIError.unsupported(address, "read GIC state", because: driver.kindDescription)
        }
        if let v = vcpu, !snapshot.vcpus.contains(v) {
            throw VMIError(
                "\(address) has no vcpu \(v) (vcpus: \(snapshot.vcpus.map(String.init).joined(separator: ", ")))")
        }
        let report = GICReport(identity: driver.recordIdentity, all: all, vcpu: vcpu)
        if output.text {
            try out.write(text: report.text(snapshot))
        } else {
            try report.write(snapshot, to: out)
        }
        try out.flush()
    }
}
