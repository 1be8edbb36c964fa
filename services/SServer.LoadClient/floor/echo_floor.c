// The floor of what a request/reply over loopback TCP costs on this machine: a C epoll server that reads a line
// and answers with a fixed reply, one thread per core, no logic at all. CPU per request = (user+sys)/requests.
// usage: echo_floor server PORT THREADS SECONDS | echo_floor client PORT CONNS RATE_PER_CONN SECONDS
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <time.h>
#include <fcntl.h>
static int port, nthreads, seconds; static int lfd; static long served[64];
static const char reply[] = "{\"id\":4,\"result\":true,\"error\":null}\n";
static void *loop(void *arg){ long idx=(long)arg; int ep=epoll_create1(0); struct epoll_event ev={.events=EPOLLIN|EPOLLEXCLUSIVE,.data.fd=lfd}; epoll_ctl(ep,EPOLL_CTL_ADD,lfd,&ev);
  struct epoll_event evs[256]; char buf[65536];
  for(;;){ int n=epoll_wait(ep,evs,256,100); for(int i=0;i<n;i++){ int fd=evs[i].data.fd;
      if(fd==lfd){ int c=accept4(lfd,0,0,SOCK_NONBLOCK); if(c<0) continue; int one=1; setsockopt(c,IPPROTO_TCP,TCP_NODELAY,&one,4); struct epoll_event e2={.events=EPOLLIN,.data.fd=c}; epoll_ctl(ep,EPOLL_CTL_ADD,c,&e2); continue;}
      ssize_t r=recv(fd,buf,sizeof buf,0); if(r<=0){ if(r==0||errno!=EAGAIN){close(fd);} continue;}
      int lines=0; for(ssize_t k=0;k<r;k++) if(buf[k]=='\n') lines++;
      char out[4096]; int len=0; for(int l=0;l<lines && len+sizeof reply<sizeof out;l++){ memcpy(out+len,reply,sizeof reply-1); len+=sizeof reply-1; }
      if(len) send(fd,out,len,MSG_NOSIGNAL); served[idx]+=lines; } } }
static double now(){struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc,char**argv){ if(argc<5) return 2; port=atoi(argv[2]);
  if(!strcmp(argv[1],"server")){ nthreads=atoi(argv[3]); seconds=atoi(argv[4]);
    lfd=socket(AF_INET,SOCK_STREAM|SOCK_NONBLOCK,0); int one=1; setsockopt(lfd,SOL_SOCKET,SO_REUSEADDR,&one,4);
    struct sockaddr_in a={.sin_family=AF_INET,.sin_port=htons(port),.sin_addr.s_addr=htonl(INADDR_LOOPBACK)}; if(bind(lfd,(void*)&a,sizeof a)||listen(lfd,4096)){perror("bind");return 1;}
    pthread_t t; for(long i=0;i<nthreads;i++) pthread_create(&t,0,loop,(void*)i);
    // measure the middle of the run: skip 3 s of connecting
    sleep(3); struct rusage u0,u1; getrusage(RUSAGE_SELF,&u0); long s0=0; for(int i=0;i<nthreads;i++) s0+=served[i]; double t0=now();
    sleep(seconds); getrusage(RUSAGE_SELF,&u1); long s1=0; for(int i=0;i<nthreads;i++) s1+=served[i]; double t1=now();
    double user=(u1.ru_utime.tv_sec-u0.ru_utime.tv_sec)+(u1.ru_utime.tv_usec-u0.ru_utime.tv_usec)/1e6, sys=(u1.ru_stime.tv_sec-u0.ru_stime.tv_sec)+(u1.ru_stime.tv_usec-u0.ru_stime.tv_usec)/1e6;
    long n=s1-s0; printf("requests %ld in %.1f s (%.0f/s); CPU per request %.2f us (user %.2f, kernel %.2f)\n",n,t1-t0,n/(t1-t0),(user+sys)*1e6/n,user*1e6/n,sys*1e6/n); return 0; }
  int conns=atoi(argv[3]); double rate=atof(argv[4]); seconds=atoi(argv[5]); int burst=argc>6&&!strcmp(argv[6],"burst");
  int ep=epoll_create1(0); int *fds=calloc(conns,sizeof(int));
  for(int i=0;i<conns;i++){ int c=socket(AF_INET,SOCK_STREAM,0); struct sockaddr_in a={.sin_family=AF_INET,.sin_port=htons(port),.sin_addr.s_addr=htonl(INADDR_LOOPBACK)}; if(connect(c,(void*)&a,sizeof a)){perror("connect");return 1;} int one=1; setsockopt(c,IPPROTO_TCP,TCP_NODELAY,&one,4); fcntl(c,F_SETFL,O_NONBLOCK); fds[i]=c; struct epoll_event e={.events=EPOLLIN,.data.fd=c}; epoll_ctl(ep,EPOLL_CTL_ADD,c,&e);}
  const char *req="{\"id\":4,\"method\":\"mining.submit\",\"params\":[\"user.worker\",\"1a2b3c4d5e6f7081\",\"00000001\",\"6543f1aa\",\"1c2d3e4f\"]}\n";
  size_t rl=strlen(req); double start=now(), interval=1.0/(rate*conns); double next=start; int idx=0; char buf[65536]; struct epoll_event evs[256];
  while(now()-start<seconds+3){ double t=now(); while(next<=t){ send(fds[idx],req,rl,MSG_NOSIGNAL); idx=(idx+1)%conns; next+=interval; }
    // Like SServer's load client: whatever is due, then 5 ms (bursts of rate*conns/200 requests).
    int n=epoll_wait(ep,evs,256,burst?5:((int)((next-now())*1000)>0?(int)((next-now())*1000):0)); for(int i=0;i<n;i++) while(recv(evs[i].data.fd,buf,sizeof buf,0)>0); }
  return 0; }
