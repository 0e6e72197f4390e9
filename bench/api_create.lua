-- bench/api scenario "create": POST /api/v1/instances, each with a new name.
dofile(os.getenv("BENCH_LUA_DIR") .. "/api_common.lua")
request = function()
  return create_instance("c")
end
