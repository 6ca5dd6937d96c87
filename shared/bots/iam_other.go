package bots

// otherOperations are the operations of the remaining services bots call (Lambda, RDS, …).
var otherOperations = map[string][]string{}
