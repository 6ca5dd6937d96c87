package bots

// s3Operations are the S3 and S3 Control operations bots call.
var s3Operations = map[string][]string{}
