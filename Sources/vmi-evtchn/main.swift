import VMICLI

ToolMain.run(EvtchnCommand.self)
