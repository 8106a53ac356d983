import VMICLI

ToolMain.run(WatchCommand.self)
