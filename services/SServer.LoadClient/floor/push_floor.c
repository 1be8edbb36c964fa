// The floor of pushing one message to N loopback TCP connections on this machine: T threads, each send()s a
// MSG-byte line to its share of the connections; prints the time until each connection's send returned (p50, p99, max).
// usage: push_floor server PORT THREADS CONNS MSG ROUNDS | push_floor client PORT CONNS READ(0/1) SECONDS
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <fcntl.h>
static int *fds, nconns, nthreads, msglen; static char *msg; static double *done_at; static double t0; static pthread_barrier_t start, end;
static double now(){struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+t.tv_nsec/1e9;}
static void *pusher(void *arg){ long idx=(long)arg; for(;;){ pthread_barrier_wait(&start);
    for(int i=idx;i<nconns;i+=nthreads){ send(fds[i],msg,msglen,MSG_NOSIGNAL|MSG_DONTWAIT); done_at[i]=now()-t0; }
    pthread_barrier_wait(&end);} }
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b; return x<y?-1:x>y;}
int main(int argc,char**argv){ int port=atoi(argv[2]);
  if(!strcmp(argv[1],"server")){ nthreads=atoi(argv[3]); nconns=atoi(argv[4]); msglen=atoi(argv[5]); int rounds=atoi(argv[6]);
    msg=malloc(msglen); memset(msg,'a',msglen); msg[msglen-1]='\n'; fds=calloc(nconns,sizeof(int)); done_at=calloc(nconns,sizeof(double));
    int lfd=socket(AF_INET,SOCK_STREAM,0); int one=1; setsockopt(lfd,SOL_SOCKET,SO_REUSEADDR,&one,4);
    struct sockaddr_in a={.sin_family=AF_INET,.sin_port=htons(port),.sin_addr.s_addr=htonl(INADDR_LOOPBACK)}; if(bind(lfd,(void*)&a,sizeof a)||listen(lfd,4096)){perror("bind");return 1;}
    for(int i=0;i<nconns;i++){ fds[i]=accept(lfd,0,0); setsockopt(fds[i],IPPROTO_TCP,TCP_NODELAY,&one,4);} fprintf(stderr,"accepted %d\n",nconns);
    pthread_barrier_init(&start,0,nthreads+1); pthread_barrier_init(&end,0,nthreads+1); pthread_t t; for(long i=0;i<nthreads;i++) pthread_create(&t,0,pusher,(void*)i);
    for(int r=0;r<rounds;r++){ sleep(2); t0=now(); pthread_barrier_wait(&start); pthread_barrier_wait(&end); qsort(done_at,nconns,sizeof(double),cmp);
      printf("round %d: %d sends of %d bytes on %d threads: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",r,nconns,msglen,nthreads,done_at[nconns/2]*1e3,done_at[nconns*99/100]*1e3,done_at[nconns-1]*1e3); fflush(stdout);}
    return 0; }
  int conns=atoi(argv[3]); int readit=atoi(argv[4]); int secs=atoi(argv[5]); int ep=epoll_create1(0);
  for(int i=0;i<conns;i++){ int c=socket(AF_INET,SOCK_STREAM,0); struct sockaddr_in a={.sin_family=AF_INET,.sin_port=htons(port),.sin_addr.s_addr=htonl(INADDR_LOOPBACK)}; if(connect(c,(void*)&a,sizeof a)){perror("connect");return 1;} fcntl(c,F_SETFL,O_NONBLOCK); if(readit){struct epoll_event e={.events=EPOLLIN,.data.fd=c}; epoll_ctl(ep,EPOLL_CTL_ADD,c,&e);} }
  char buf[65536]; struct epoll_event evs[512]; double end=now()+secs; while(now()<end){ if(!readit){ sleep(1); continue;} int n=epoll_wait(ep,evs,512,100); for(int i=0;i<n;i++) while(recv(evs[i].data.fd,buf,sizeof buf,0)>0); }
  return 0; }
