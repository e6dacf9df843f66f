using ExeGPT.Cli;

return CliApp.Run(args);
