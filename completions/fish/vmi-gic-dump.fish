function __vmi-gic-dump_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __vmi-gic-dump_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __vmi-gic-dump_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __vmi-gic-dump_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __vmi-gic-dump_parse_tokens -S
    set -l unparsed_tokens (__vmi-gic-dump_tokens -pc)
    switch $unparsed_tokens[1]
    case 'vmi-gic-dump'
        __vmi-gic-dump_parse_subcommand 1 't/text' 'all' 'vcpu=' 'decode=+' 'gicd-base=' 'gicr-base=' 'stub-timeout=' 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'help'
            __vmi-gic-dump_parse_subcommand -r 1 'version'
        end
    end
end

function __vmi-gic-dump_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __vmi-gic-dump_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __vmi-gic-dump_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __vmi-gic-dump_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__vmi-gic-dump_tokens -p)
    if test -z "$(__vmi-gic-dump_tokens -t)"
        set -l index (count (__vmi-gic-dump_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'vmi-gic-dump' -f
complete -c 'vmi-gic-dump' -n '__vmi-gic-dump_should_offer_completions_for_flags_or_options "vmi-gic-dump" t text' -s 't' -l 'text' -d 'Print a human-readable layout instead of JSON lines.'
complete -c 'vmi-gic-dump' -n '__vmi-gic-dump_should_offer_completions_for_flags_or_options "vmi-gic-dump" all' -l 'all' -d 'Every interrupt and list register, not only the live ones.'
complete -c 'vmi-gic-dump' -n '__vmi-gic-dump_should_offer_completions_for_flags_or_options "vmi-gic-dump" vcpu' -l 'vcpu' -d 'Only this vCPU\'s redistributor, CPU interface, list registers and private interrupts.' -rfka ''
complete -c 'vmi-gic-dump' -n '__vmi-gic-dump_should_offer_completions_for_flags_or_options "vmi-gic-dump"' -l 'decode' -d 'Decode a raw register word: NAME=WORD (ich_lr, ich_hcr, ich_vmcr, ich_vtr, ich_misr, ich_elrsr, icc_ctlr, icc_sre, gicd_ctlr, gicd_typer, gicr_typer, ...). Repeatable.' -rfka ''
complete -c 'vmi-gic-dump' -n '__vmi-gic-dump_should_offer_completions_for_flags_or_options "vmi-gic-dump" gicd-base' -l 'gicd-base' -d 'gdb: guest-physical base of the distributor (default 0x8000000, QEMU virt).' -rfka ''
complete -c 'vmi-gic-dump' -n '__vmi-gic-dump_should_offer_completions_for_flags_or_options "vmi-gic-dump" gicr-base' -l 'gicr-base' -d 'gdb: guest-physical base of the first redistributor (default 0x80a0000, QEMU virt).' -rfka ''
complete -c 'vmi-gic-dump' -n '__vmi-gic-dump_should_offer_completions_for_flags_or_options "vmi-gic-dump" stub-timeout' -l 'stub-timeout' -d 'gdb: seconds to wait for each reply of the stub.' -rfka ''
complete -c 'vmi-gic-dump' -n '__vmi-gic-dump_should_offer_completions_for_flags_or_options "vmi-gic-dump" version' -l 'version' -d 'Show the version.'
complete -c 'vmi-gic-dump' -n '__vmi-gic-dump_should_offer_completions_for_flags_or_options "vmi-gic-dump" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vmi-gic-dump' -n '__vmi-gic-dump_should_offer_completions_for_positional "vmi-gic-dump" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'vmi-gic-dump' -n '__vmi-gic-dump_should_offer_completions_for_flags_or_options "vmi-gic-dump help" version' -l 'version' -d 'Show the version.'
