module dream/agent

go 1.22
