package botstep

// The runner's tests run real bots (ec2_stop_instance, s3_block_public_access) and their exemption
// readers: link every family, as each bot's own Lambda links its one.
import _ "github.com/guardbots/guardbots/shared/bots/all"
