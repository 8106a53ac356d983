import VMICLI

ToolMain.run(GicDumpCommand.self)
