/** The CloudFormation stack name prefix of a deployment when `--stack` is not given. */
export const DEFAULT_STACK = "phs"
