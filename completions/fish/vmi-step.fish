function __vmi-step_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __vmi-step_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __vmi-step_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __vmi-step_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __vmi-step_parse_tokens -S
    set -l unparsed_tokens (__vmi-step_tokens -pc)
    switch $unparsed_tokens[1]
    case 'vmi-step'
        __vmi-step_parse_subcommand 1 'wait=' 'stub-timeout=' 'vcpu=' 'count=' 'timeout=' 'force' 'until=' 'regs=' 'i/interactive' 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'help'
            __vmi-step_parse_subcommand -r 1 'version'
        end
    end
end

function __vmi-step_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __vmi-step_parse_subcommand -S -a positional_count
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

function __vmi-step_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __vmi-step_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__vmi-step_tokens -p)
    if test -z "$(__vmi-step_tokens -t)"
        set -l index (count (__vmi-step_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'vmi-step' -f
complete -c 'vmi-step' -n '__vmi-step_should_offer_completions_for_flags_or_options "vmi-step" wait' -l 'wait' -d 'Xen: wait up to SECONDS for the domain to appear.' -rfka ''
complete -c 'vmi-step' -n '__vmi-step_should_offer_completions_for_flags_or_options "vmi-step" stub-timeout' -l 'stub-timeout' -d 'gdb: seconds to wait for each reply of the stub.' -rfka ''
complete -c 'vmi-step' -n '__vmi-step_should_offer_completions_for_flags_or_options "vmi-step" vcpu' -l 'vcpu' -d 'Only this vCPU.' -rfka ''
complete -c 'vmi-step' -n '__vmi-step_should_offer_completions_for_flags_or_options "vmi-step" count' -l 'count' -d 'Stop after N records.' -rfka ''
complete -c 'vmi-step' -n '__vmi-step_should_offer_completions_for_flags_or_options "vmi-step" timeout' -l 'timeout' -d 'Stop after this long: 10s, 500ms, 2m (plain numbers are seconds).' -rfka ''
complete -c 'vmi-step' -n '__vmi-step_should_offer_completions_for_flags_or_options "vmi-step" force' -l 'force' -d 'Reclaim a monitor left behind by a killed listener (Xen).'
complete -c 'vmi-step' -n '__vmi-step_should_offer_completions_for_flags_or_options "vmi-step" until' -l 'until' -d 'Run to this address first, then step.' -rfka ''
complete -c 'vmi-step' -n '__vmi-step_should_offer_completions_for_flags_or_options "vmi-step" regs' -l 'regs' -d 'Registers in each record: changed (since the previous step) or all.' -rfka 'changed all'
complete -c 'vmi-step' -n '__vmi-step_should_offer_completions_for_flags_or_options "vmi-step" i interactive' -s 'i' -l 'interactive' -d 'Read commands (step, continue, regs, mem, break, ...) from stdin.'
complete -c 'vmi-step' -n '__vmi-step_should_offer_completions_for_flags_or_options "vmi-step" version' -l 'version' -d 'Show the version.'
complete -c 'vmi-step' -n '__vmi-step_should_offer_completions_for_flags_or_options "vmi-step" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vmi-step' -n '__vmi-step_should_offer_completions_for_positional "vmi-step" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'vmi-step' -n '__vmi-step_should_offer_completions_for_flags_or_options "vmi-step help" version' -l 'version' -d 'Show the version.'
