package bots

// iamOperations are the IAM operations bots call.
var iamOperations = map[string][]string{}
