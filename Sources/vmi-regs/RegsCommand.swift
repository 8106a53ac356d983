import ArgumentParser
import VMICLI
import VMICore

struct RegsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmi-regs",
        abstract: "Dump or set the vCPU registers of a VM (x86_64, AArch64).",
        discussion: """
            Prints one 'regs' JSON record per vCPU. With --set, writes registers instead: \
            'name=value' pairs, or '-' to read 'regs' records (this tool's own output, edited) \
            from standard input and write the registers that differ.

            Examples:
              vmi-regs web01 | jq -r .rip
              vmi-regs core:web01.core --vcpu 0 --text
              vmi-regs web01 --vcpu 0 | jq '.rax="0x0"' | vmi-regs web01 --set -
              vmi-regs gdb:127.0.0.1:1234 --set rax=0x1
            """,
        version: VMIVersion.string)

    @OptionGroup var target: TargetOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Only this vCPU.")
    var vcpu: Int?

    @Option(
        name: .customLong("set"), parsing: .singleValue,
        help: ArgumentHelp("Write registers: NAME=VALUE (repeatable), or '-' for regs records on stdin.",
            valueName: "assignment"))
    var assignments: [String] = []

    func validate() throws {
        if let v = vcpu, v < 0 { throw ValidationError("--vcpu must be >= 0") }
        for a in assignments where a != "-" {
            let parts = a.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parseUInt64(parts[1]) != nil else {
                throw ValidationError("--set expects NAME=VALUE (e.g. rax=0x1) or '-', got '\(a)'")
            }
        }
        if assignments.contains("-") && assignments.count > 1 {
            throw ValidationError("--set - cannot be combined with NAME=VALUE")
        }
        if !assignments.isEmpty && output.text { throw ValidationError("--text has no meaning with --set") }
    }

    func run() throws {
        try target.withTarget { driver in
            if assignments.isEmpty {
                try dump(try driver.require(RegisterReader.self, to: "read registers"))
            } else {
                try RegisterUpdate.apply(assignments, vcpu: vcpu, to: driver)
            }
        }
    }

    func dump(_ reader: RegisterReader) throws {
        let all = try reader.vcpus()
        let chosen = try vcpu.map { v -> [Int] in
            guard all.contains(v) else { throw VMIError("\(reader.address) has no vcpu \(v) (vcpus: \(all.map(String.init).joined(separator: ", ")))") }
            return [v]
        } ?? all
        let out = OutputWriter(mode: .buffered)
        for v in chosen {
            let regs = try reader.registers(vcpu: v)
            if output.text {
                try out.write(text: regs.textLayout(identity: reader.recordIdentity))
            } else {
                try out.write(regs.record(identity: reader.recordIdentity))
            }
        }
        try out.flush()
    }
}
