import VMICLI

ToolMain.run(RegsCommand.self)
