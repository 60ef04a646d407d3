package action

// oNoFollow is 0: Windows has no O_NOFOLLOW; the file is still checked to
// be a regular file after it is opened.
const oNoFollow = 0
