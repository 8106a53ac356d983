import VMICLI

ToolMain.run(StepCommand.self)
